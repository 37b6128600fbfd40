// Open MPI loaded at run time (dlopen of libmpi.so.40 / libmpi.40.dylib), so that the package builds and
// the single-process path runs on a machine without MPI. Only the calls data-parallel training and the
// experiment queue need. Every function returns 0 on success and an MPI error code (or -1) otherwise;
// `flb_mpi_load` explains a failure in `message`.
#ifndef FREELB_MPI_H
#define FREELB_MPI_H

#include <stddef.h>
#include <stdint.h>

/// Loads libmpi and resolves the functions and predefined handles; 0 on success, else -1 with `message`.
int flb_mpi_load(char *message, size_t capacity);
/// MPI_Init_thread(MPI_THREAD_SERIALIZED); sets this process's rank and the world size.
int flb_mpi_init(int *rank, int *size);
/// In-place sum over all ranks of `count` floats (split into calls of at most 2^30 elements).
int flb_mpi_allreduce_sum_float(float *buffer, int64_t count);
/// In-place sum over all ranks of `count` doubles.
int flb_mpi_allreduce_sum_double(double *buffer, int64_t count);
/// Broadcasts `count` bytes from `root` to every rank.
int flb_mpi_broadcast_bytes(void *buffer, int64_t count, int root);
int flb_mpi_barrier(void);
/// Blocking send / receive of one 64-bit integer with a tag.
int flb_mpi_send_int64(int64_t value, int destination, int tag);
int flb_mpi_receive_int64(int64_t *value, int source, int tag);
/// Non-blocking probe for a message with `tag` from any rank: *found is 1 (and *source set) when one waits.
int flb_mpi_probe_any(int tag, int *found, int *source);
int flb_mpi_finalize(void);
/// MPI_Abort on the world: ends every rank with `code`.
void flb_mpi_abort(int code);
/// CPUs this process may run on (its affinity mask; mpirun binds ranks); 0 when unknown.
int flb_affinity_cpu_count(void);

#endif
