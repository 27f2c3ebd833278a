/* matmul.h: batched matrix product of two tensors, out[t] = a[a_index[t]] @ b[b_index[t]].
 *
 * a holds matrices of (m, k), b of (k, n), out `batch` matrices of (m, n), all row-major one
 * after the other. The leading axes broadcast (numpy's rule): the exporter resolves them into
 * the matrix each output matrix reads from a and from b (a_index, b_index: static const int
 * tables; NULL means matrix t itself). Keras's Dot between matrices and the EinsumDense forms
 * that contract two tensors come down to this.
 *
 * Accumulation order (docs/format.md, Numerics), the same as dense.h: each output value starts
 * at +0.0f and adds a[i][p] * b[p][j] for p = 0 .. k-1 in order, one rounding per step (fmaf;
 * x * y + s where KERASLESS_DENSE_FMA is 0, which dense.h says where it chooses).
 * out must not overlap a or b.
 */
#ifndef KERASLESS_KERNEL_MATMUL
#define KERASLESS_KERNEL_MATMUL

#include <math.h>
#include <stddef.h>

#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

/* dense.h's choice of multiply-add (it comes first in a header that has both), or yours: fmaf unless
 * KERASLESS_DENSE_FMA is 0. */
#if defined(KERASLESS_DENSE_FMA) && !KERASLESS_DENSE_FMA
#define KL_MATMUL_MAC(x, y, s) ((x) * (y) + (s))
#else
#define KL_MATMUL_MAC(x, y, s) fmaf(x, y, s)
#endif

static inline void kl_matmul_forward(float *out,         /* (batch, m, n) */
                                     const float *a,     /* (a's matrices, m, k) */
                                     const float *b,     /* (b's matrices, k, n) */
                                     const int *a_index, /* (batch,), or NULL */
                                     const int *b_index, /* (batch,), or NULL */
                                     int batch, int m, int k, int n)
{
    for (int t = 0; t < batch; t++) {
        const int at = a_index ? KL_LOAD_INT(a_index + t) : t;
        const int bt = b_index ? KL_LOAD_INT(b_index + t) : t;
        const float *x = a + (size_t)at * (size_t)m * (size_t)k; /* (m, k) */
        const float *y = b + (size_t)bt * (size_t)k * (size_t)n; /* (k, n) */
        float *z = out + (size_t)t * (size_t)m * (size_t)n;      /* (m, n) */
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float sum = 0.0f;
                for (int p = 0; p < k; p++) {
                    sum = KL_MATMUL_MAC(x[(size_t)i * (size_t)k + (size_t)p], y[(size_t)p * (size_t)n + (size_t)j], sum);
                }
                z[(size_t)i * (size_t)n + (size_t)j] = sum;
            }
        }
    }
}

#endif /* KERASLESS_KERNEL_MATMUL */
