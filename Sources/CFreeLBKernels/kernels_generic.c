// Baseline variant of every kernel (SSE2 on x86-64, NEON/other elsewhere): name_generic.
#include <math.h>
#include <stdint.h>
#include <string.h>
#define FLB_FN(name) name##_generic
#include "flb_vec.h"
#include "flb_impl_elementwise.h"
#include "flb_impl_rows.h"
#include "flb_impl_misc.h"
