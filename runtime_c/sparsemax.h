/* sparsemax.h: sparsemax over each group of n values (the last axis), exactly as Keras 3.15
 * computes it on TensorFlow (keras/src/backend/tensorflow/nn.py), including its bug:
 *
 *   s = the row sorted in descending order (NaN first), c = cumsum(s) in float32,
 *   support[r] = s[r] - (c[r] - 1) / (r + 1) > 0,  k = number of supported r,
 *   tau = (sum of c[r] over the support - 1) / k,   y = max(x - tau, 0).
 *
 * The correct tau is (c[k-1] - 1) / k; Keras 3.15 sums the cumsum over the support instead, so
 * rows do not sum to 1 (keras-team/keras#23425). Matching model.predict means matching that:
 * this is version-dependent. No memory is allocated: the sorted order is walked by selection,
 * O(n^2) per row (ties are taken in index order; the order of equal values does not change the
 * result). out == inp is allowed: the row is only read until tau is known.
 */
#ifndef KERASLESS_KERNEL_SPARSEMAX
#define KERASLESS_KERNEL_SPARSEMAX

#include <stddef.h>

/* Whether (a, ia) comes before (b, ib) in descending order: NaN first, ties by index. */
static inline int kl_sparsemax_before(float a, int ia, float b, int ib)
{
    const int a_nan = a != a, b_nan = b != b;
    if (a_nan || b_nan) {
        return a_nan && (!b_nan || ia < ib);
    }
    return a > b || (a == b && ia < ib);
}

static inline void kl_sparsemax_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *y = out + (size_t)r * (size_t)n;       /* (n,) */
        float cumsum = 0.0f, support_sum = 0.0f, k = 0.0f;
        int last = -1; /* index of the previous value in sorted order */
        for (int rank = 1; rank <= n; rank++) {
            int next = -1;
            for (int j = 0; j < n; j++) {
                if ((last < 0 || kl_sparsemax_before(x[last], last, x[j], j)) &&
                    (next < 0 || kl_sparsemax_before(x[j], j, x[next], next))) {
                    next = j;
                }
            }
            last = next;
            cumsum = cumsum + x[next];
            if (x[next] - (cumsum - 1.0f) / (float)rank > 0.0f) {
                support_sum = support_sum + cumsum;
                k = k + 1.0f;
            }
        }
        const float tau = (support_sum - 1.0f) / k;
        for (int j = 0; j < n; j++) {
            const float d = x[j] - tau;
            y[j] = d > 0.0f ? d : (d == d ? 0.0f : d); /* tf.maximum(d, 0) keeps NaN */
        }
    }
}

#endif /* KERASLESS_KERNEL_SPARSEMAX */
