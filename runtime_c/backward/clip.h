/* backward/clip.h: the gradient of clip.h, added into grad_in (docs/format.md, Backward rules).
 *
 * tf.clip_by_value = maximum(minimum(x, high), low): g where x <= high and minimum(x, high) >= low (ties pass), 0 for NaN.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_CLIP_BACKWARD
#define KERASLESS_KERNEL_CLIP_BACKWARD

static inline void kl_clip_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n, float low, float high)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = (x <= high && (x < high ? x : high) >= low) ? g : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_CLIP_BACKWARD */
