// AVX-512 variant (x86-64-v4) of every kernel: name_avx512. Chosen by dispatch.c at load time.
#if defined(__x86_64__) && defined(__clang__)
#include <math.h>
#include <stdint.h>
#include <string.h>
#define FLB_FN(name) name##_avx512
#pragma clang attribute push(__attribute__((target("arch=x86-64-v4"))), apply_to = function)
#include "flb_vec.h"
#include "flb_impl_elementwise.h"
#include "flb_impl_rows.h"
#include "flb_impl_misc.h"
#pragma clang attribute pop
#endif
