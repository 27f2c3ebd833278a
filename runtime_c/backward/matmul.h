/* backward/matmul.h: the gradient of matmul.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * out[t] = a[at] @ b[bt]: grad_a[at] += grad_out[t] @ b[bt]^T and grad_b[bt] += a[at]^T @ grad_out[t],
 * for t in order, so a matrix read by several output matrices (broadcast) gets the sum of theirs.
 */
#ifndef KERASLESS_KERNEL_MATMUL_BACKWARD
#define KERASLESS_KERNEL_MATMUL_BACKWARD

#include <stddef.h>

#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

static inline void kl_matmul_backward(float *grad_a,         /* (a's matrices, m, k): added to */
                                      float *grad_b,         /* (b's matrices, k, n): added to */
                                      const float *grad_out, /* (batch, m, n) */
                                      const float *a,        /* (a's matrices, m, k): the forward input a */
                                      const float *b,        /* (b's matrices, k, n): the forward input b */
                                      const int *a_index,    /* (batch,), or NULL */
                                      const int *b_index,    /* (batch,), or NULL */
                                      int batch, int m, int k, int n)
{
    for (int t = 0; t < batch; t++) {
        const int at = a_index ? KL_LOAD_INT(a_index + t) : t;
        const int bt = b_index ? KL_LOAD_INT(b_index + t) : t;
        const float *x = a + (size_t)at * (size_t)m * (size_t)k;  /* (m, k) */
        const float *y = b + (size_t)bt * (size_t)k * (size_t)n;  /* (k, n) */
        const float *g = grad_out + (size_t)t * (size_t)m * (size_t)n; /* (m, n) */
        float *dx = grad_a + (size_t)at * (size_t)m * (size_t)k;  /* (m, k) */
        float *dy = grad_b + (size_t)bt * (size_t)k * (size_t)n;  /* (k, n) */
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                float sum = 0.0f;
                for (int j = 0; j < n; j++) {
                    sum = sum + g[(size_t)i * (size_t)n + (size_t)j] * y[(size_t)p * (size_t)n + (size_t)j];
                }
                dx[(size_t)i * (size_t)k + (size_t)p] += sum;
            }
        }
        for (int p = 0; p < k; p++) {
            for (int j = 0; j < n; j++) {
                float sum = 0.0f;
                for (int i = 0; i < m; i++) {
                    sum = sum + x[(size_t)i * (size_t)k + (size_t)p] * g[(size_t)i * (size_t)n + (size_t)j];
                }
                dy[(size_t)p * (size_t)n + (size_t)j] += sum;
            }
        }
    }
}

#endif /* KERASLESS_KERNEL_MATMUL_BACKWARD */
