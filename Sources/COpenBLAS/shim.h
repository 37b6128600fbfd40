#include <cblas.h>
// Provided by OpenBLAS; lets the engine pin BLAS threads to FREELB_NUM_THREADS.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
