/* mcfast: the stack jacobian's streaming copy of a chain's result to the output, per
 * instruction set.
 *
 * Included by mc_stack_level.h with MC_STGT, MC_SLVL and MC_SLEVEL defined. A stack's
 * output larger than the caches (mc_stk.stream, set by the driver) is written with
 * non-temporal stores: the result of a chain, computed into an aligned buffer on the
 * thread's stack, is copied out whole cache lines at a time around the cache (no read
 * for ownership of the output's lines: a quarter of the traffic of a stack of n = 16
 * float64 chains). The output's alignment is any (NumPy's: 16 bytes), so the lines the
 * chain shares with its neighbours, at its two ends, take ordinary stores.
 * mc_stk_stream_end: the fence that orders the streaming stores before the thread reports
 * its chunk done.
 */

MC_STGT static inline void MC_SCAT2(mc_stk_stream, MC_SLVL)(void *dst, const void *src,
                                                            size_t bytes)
{
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (size_t)(-(uintptr_t)d) & 63;
    if (head > bytes)
        head = bytes;
    memcpy(d, s, head);
    size_t off = head;
#if MC_X86 || (MC_SLEVEL == 0 && defined(__SSE2__))
    for (; off + 64 <= bytes; off += 64) {
#  if MC_SLEVEL == 2
        _mm512_stream_si512((void *)(d + off), _mm512_loadu_si512((const void *)(s + off)));
#  elif MC_SLEVEL == 1
        _mm256_stream_si256((__m256i *)(d + off),
                            _mm256_loadu_si256((const __m256i *)(s + off)));
        _mm256_stream_si256((__m256i *)(d + off + 32),
                            _mm256_loadu_si256((const __m256i *)(s + off + 32)));
#  else
        for (int q = 0; q < 64; q += 16)
            _mm_stream_si128((__m128i *)(d + off + q),
                             _mm_loadu_si128((const __m128i *)(s + off + q)));
#  endif
    }
#endif
    memcpy(d + off, s + off, bytes - off);
}

MC_STGT static inline void MC_SCAT2(mc_stk_stream_end, MC_SLVL)(void)
{
#if MC_X86 || (MC_SLEVEL == 0 && defined(__SSE2__))
    _mm_sfence();
#endif
}
