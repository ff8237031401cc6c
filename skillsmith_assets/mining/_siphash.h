/* SipHash-1-3 with a 128-bit output (Aumasson and Bernstein's reference construction, the
 * rounds CPython's str hash uses). Keyed with a secret drawn at random, it is a PRF: nobody who
 * does not know the key can make two inputs collide, which is why a table may stand a pair's
 * hash in for the pair itself. */
#ifndef SKILLSMITH_SIPHASH_H
#define SKILLSMITH_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                                        \
    do {                                                                                                 \
        v0 += v1, v1 = SIP_ROTL(v1, 13), v1 ^= v0, v0 = SIP_ROTL(v0, 32);                                \
        v2 += v3, v3 = SIP_ROTL(v3, 16), v3 ^= v2;                                                       \
        v0 += v3, v3 = SIP_ROTL(v3, 21), v3 ^= v0;                                                       \
        v2 += v1, v1 = SIP_ROTL(v1, 17), v1 ^= v2, v2 = SIP_ROTL(v2, 32);                                \
    } while (0)

static inline uint64_t sip_load(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* out[0], out[1]: SipHash-1-3-128 of in[0..n) under the key (k0, k1). */
static void siphash13_128(uint64_t k0, uint64_t k1, const unsigned char *in, size_t n, uint64_t out[2]) {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1 ^ 0xee;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    const unsigned char *end = in + (n & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m = sip_load(in);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)n << 56;
    for (size_t i = 0; i < (n & 7); i++) last |= (uint64_t)in[i] << (8 * i);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xee;
    for (int r = 0; r < 3; r++) SIP_ROUND(v0, v1, v2, v3);
    out[0] = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
    for (int r = 0; r < 3; r++) SIP_ROUND(v0, v1, v2, v3);
    out[1] = v0 ^ v1 ^ v2 ^ v3;
}

#endif
