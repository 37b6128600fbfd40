// Open MPI through dlopen. Open MPI's handles (MPI_Comm, MPI_Datatype, MPI_Op) are pointers to predefined
// global objects (ompi_mpi_comm_world, ompi_mpi_float, …), which are looked up with dlsym like the functions;
// MPI_IN_PLACE is (void *)1 and MPI_STATUS_IGNORE is NULL in Open MPI's ABI (libmpi.so.40, Open MPI 3.0–5.x).
// Where the header is installed (Debian: libopenmpi-dev) those assumptions are checked at compile time.
#define _GNU_SOURCE
#include "freelb_mpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sched.h>
#endif

#if __has_include(<mpi/mpi.h>)
#include <mpi/mpi.h>
#define FLB_HAVE_MPI_HEADER 1
#elif __has_include(<mpi.h>)
#include <mpi.h>
#define FLB_HAVE_MPI_HEADER 1
#endif

typedef void *flb_handle;  // MPI_Comm, MPI_Datatype, MPI_Op: pointers in Open MPI
typedef struct {
    int source, tag, error, cancelled;
    size_t count;
} flb_status;  // Open MPI's MPI_Status

enum { flb_thread_serialized = 2, flb_max_chunk = 1 << 30 };
static void *const flb_in_place = (void *)1;

#ifdef FLB_HAVE_MPI_HEADER
#ifndef OPEN_MPI
#error "the installed mpi.h is not Open MPI's; FreeLB loads Open MPI's libmpi.so.40"
#endif
_Static_assert(sizeof(MPI_Status) == sizeof(flb_status), "Open MPI's MPI_Status layout");
_Static_assert(sizeof(MPI_Comm) == sizeof(flb_handle), "Open MPI handles are pointers");
_Static_assert(MPI_THREAD_SERIALIZED == flb_thread_serialized, "MPI_THREAD_SERIALIZED");
_Static_assert(MPI_ANY_SOURCE == -1, "MPI_ANY_SOURCE");
#endif

static struct {
    int loaded;
    flb_handle world, float_type, double_type, byte_type, int64_type, sum;
    int (*init_thread)(int *, char ***, int, int *);
    int (*comm_rank)(flb_handle, int *);
    int (*comm_size)(flb_handle, int *);
    int (*allreduce)(const void *, void *, int, flb_handle, flb_handle, flb_handle);
    int (*bcast)(void *, int, flb_handle, int, flb_handle);
    int (*barrier)(flb_handle);
    int (*send)(const void *, int, flb_handle, int, int, flb_handle);
    int (*recv)(void *, int, flb_handle, int, int, flb_handle, flb_status *);
    int (*iprobe)(int, int, flb_handle, int *, flb_status *);
    int (*finalize)(void);
    int (*abort)(flb_handle, int);
} mpi;

int flb_mpi_load(char *message, size_t capacity) {
    if (mpi.loaded) return 0;
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols through the global scope.
    const char *names[] = {"libmpi.so.40", "libmpi.40.dylib", "libmpi.so", "libmpi.dylib"};
    void *library = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !library; i++)
        library = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(message, capacity, "cannot load Open MPI's libmpi.so.40 (%s); install Open MPI (Debian: apt-get install "
                 "openmpi-bin libopenmpi-dev; macOS: brew install open-mpi)", dlerror());
        return -1;
    }
    struct { void **slot; const char *name; } symbols[] = {
        {(void **)&mpi.init_thread, "MPI_Init_thread"}, {(void **)&mpi.comm_rank, "MPI_Comm_rank"},
        {(void **)&mpi.comm_size, "MPI_Comm_size"}, {(void **)&mpi.allreduce, "MPI_Allreduce"},
        {(void **)&mpi.bcast, "MPI_Bcast"}, {(void **)&mpi.barrier, "MPI_Barrier"}, {(void **)&mpi.send, "MPI_Send"},
        {(void **)&mpi.recv, "MPI_Recv"}, {(void **)&mpi.iprobe, "MPI_Iprobe"}, {(void **)&mpi.finalize, "MPI_Finalize"},
        {(void **)&mpi.abort, "MPI_Abort"}, {&mpi.world, "ompi_mpi_comm_world"}, {&mpi.float_type, "ompi_mpi_float"},
        {&mpi.double_type, "ompi_mpi_double"}, {&mpi.byte_type, "ompi_mpi_byte"}, {&mpi.int64_type, "ompi_mpi_int64_t"},
        {&mpi.sum, "ompi_mpi_op_sum"},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(library, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(message, capacity, "the loaded libmpi has no %s: FreeLB needs Open MPI (libmpi.so.40)",
                     symbols[i].name);
            return -1;
        }
    }
    mpi.loaded = 1;
    return 0;
}

int flb_mpi_init(int *rank, int *size) {
    int provided = 0;
    int status = mpi.init_thread(NULL, NULL, flb_thread_serialized, &provided);
    if (status != 0) return status;
    if ((status = mpi.comm_rank(mpi.world, rank)) != 0) return status;
    return mpi.comm_size(mpi.world, size);
}

/// In-place MPI_SUM of `count` elements of `size` bytes, in calls of at most 2^30 elements (MPI counts are int).
static int allreduce_sum(char *buffer, int64_t count, size_t size, flb_handle type) {
    for (int64_t start = 0; start < count; start += flb_max_chunk) {
        int n = (int)(count - start < flb_max_chunk ? count - start : flb_max_chunk);
        int status = mpi.allreduce(flb_in_place, buffer + start * (int64_t)size, n, type, mpi.sum, mpi.world);
        if (status != 0) return status;
    }
    return 0;
}

int flb_mpi_allreduce_sum_float(float *buffer, int64_t count) {
    return allreduce_sum((char *)buffer, count, sizeof *buffer, mpi.float_type);
}

int flb_mpi_allreduce_sum_double(double *buffer, int64_t count) {
    return allreduce_sum((char *)buffer, count, sizeof *buffer, mpi.double_type);
}

int flb_mpi_broadcast_bytes(void *buffer, int64_t count, int root) {
    for (int64_t start = 0; start < count; start += flb_max_chunk) {
        int n = (int)(count - start < flb_max_chunk ? count - start : flb_max_chunk);
        int status = mpi.bcast((char *)buffer + start, n, mpi.byte_type, root, mpi.world);
        if (status != 0) return status;
    }
    return 0;
}

int flb_mpi_barrier(void) { return mpi.barrier(mpi.world); }

int flb_mpi_send_int64(int64_t value, int destination, int tag) {
    return mpi.send(&value, 1, mpi.int64_type, destination, tag, mpi.world);
}

int flb_mpi_receive_int64(int64_t *value, int source, int tag) {
    return mpi.recv(value, 1, mpi.int64_type, source, tag, mpi.world, NULL);
}

int flb_mpi_probe_any(int tag, int *found, int *source) {
    flb_status status = {0};
    int result = mpi.iprobe(-1 /* MPI_ANY_SOURCE */, tag, mpi.world, found, &status);
    *source = status.source;
    return result;
}

int flb_mpi_finalize(void) { return mpi.finalize(); }

void flb_mpi_abort(int code) {
    if (mpi.loaded) mpi.abort(mpi.world, code);
}

int flb_affinity_cpu_count(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    return 0;
}
