/* clip.h: y = maximum(minimum(x, high), low) elementwise (keras.ops.clip = tf.clip_by_value); NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_CLIP
#define KERASLESS_KERNEL_CLIP

static inline void kl_clip_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n, float low, float high)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > high ? (high < low ? low : high) : (x < low ? low : x);
    }
}

#endif /* KERASLESS_KERNEL_CLIP */
