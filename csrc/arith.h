/*
 * The integer operations of the C core that some targets lack as instructions: 32x32 -> 64
 * multiplies, 64-bit shifts by a variable amount, 32-bit division and modulo, and one
 * 64 / 32 division.
 *
 * ARMv6-M (Cortex-M0, M0+, M1) has no divide instruction and no 32x32 -> 64 multiply, so
 * GCC calls libgcc's run-time helpers for these (__aeabi_idiv, __aeabi_idivmod,
 * __aeabi_lmul, __aeabi_llsl, __aeabi_llsr, __aeabi_lasr): the core would not link without
 * libgcc. There, and on any target built with -DPS_SOFT_ARITH (how the tests run these
 * versions on the host), each function below is written with 32-bit shifts, adds and
 * 16x16 -> 32 multiplies only. Everywhere else each is the plain C operator, so x86 and
 * Cortex-M3/M4/M7/M55 keep their single instructions. Both give the same bits for every
 * argument the function allows (tests/c/arith_driver.c checks them against each other).
 */
#ifndef PS_ARITH_H
#define PS_ARITH_H

#include <stdint.h>

#if defined(__ARM_ARCH_6M__) || defined(PS_SOFT_ARITH)
#define PS_ARITH_SOFT 1
#else
#define PS_ARITH_SOFT 0
#endif

/* Two's complement reinterpretations, without C's implementation-defined conversions
 * (compilers make them no-ops). */
static inline int32_t ps_s32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - UINT32_C(0x80000000)) + INT32_MIN;
}

static inline int64_t ps_s64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u
                                    : (int64_t)(u - UINT64_C(0x8000000000000000)) + INT64_MIN;
}

#if PS_ARITH_SOFT
static inline uint64_t ps_u64_of(uint32_t hi, uint32_t lo)
{
    return (uint64_t)hi << 32 | lo; /* a shift by 32 is a register move, no helper */
}

/* floor(n / d) and n mod d for d > 0, by shift and subtract: only as many steps as the
 * quotient has bits (pool counts, kernel widths and depth multipliers give small quotients). */
static inline uint32_t ps_udivmod32_soft(uint32_t n, uint32_t d, uint32_t *rem)
{
    /* the largest d * 2^k <= n (or d itself when n < d): doubling while 2 (d * 2^k) <= n,
     * tested as d * 2^k <= n / 2 so nothing overflows */
    uint32_t dk = d, bit = 1, q = 0;
    const uint32_t half = n >> 1;
    if (d == 0) { /* never asked (undefined for the operator): no endless loop */
        *rem = n;
        return 0;
    }
    while (dk <= half) {
        dk <<= 1;
        bit <<= 1;
    }
    for (;;) {
        if (n >= dk) {
            n -= dk;
            q |= bit;
        }
        if (bit == 1) {
            break;
        }
        dk >>= 1;
        bit >>= 1;
    }
    *rem = n;
    return q;
}
#endif

/* ---- multiplication ------------------------------------------------------------------ */

/* a * b, the full 64-bit product of two unsigned 32-bit values. */
static inline uint64_t ps_umull(uint32_t a, uint32_t b)
{
#if PS_ARITH_SOFT
    const uint32_t al = a & 0xFFFFu, ah = a >> 16, bl = b & 0xFFFFu, bh = b >> 16;
    const uint32_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    const uint32_t mid = (ll >> 16) + (lh & 0xFFFFu) + (hl & 0xFFFFu); /* < 3 * 2^16 */
    return ps_u64_of(hh + (lh >> 16) + (hl >> 16) + (mid >> 16), mid << 16 | (ll & 0xFFFFu));
#else
    return (uint64_t)a * b;
#endif
}

/* a * b, the full 64-bit product of two signed 32-bit values. */
static inline int64_t ps_smull(int32_t a, int32_t b)
{
#if PS_ARITH_SOFT
    /* The unsigned product reads a negative factor as factor + 2^32: take 2^32 times the
     * other factor back out (mod 2^64, only its low 32 bits matter). */
    const uint32_t fix = (a < 0 ? (uint32_t)b : 0u) + (b < 0 ? (uint32_t)a : 0u);
    return ps_s64(ps_umull((uint32_t)a, (uint32_t)b) - ps_u64_of(fix, 0));
#else
    return (int64_t)a * (int64_t)b;
#endif
}

/* a * b mod 2^64. */
static inline uint64_t ps_mul64(uint64_t a, uint64_t b)
{
#if PS_ARITH_SOFT
    const uint32_t alo = (uint32_t)a, ahi = (uint32_t)(a >> 32);
    const uint32_t blo = (uint32_t)b, bhi = (uint32_t)(b >> 32);
    return ps_umull(alo, blo) + ps_u64_of(alo * bhi + ahi * blo, 0);
#else
    return a * b;
#endif
}

/* a * b for signed 64-bit values whose product fits int64. */
static inline int64_t ps_smul64(int64_t a, int64_t b)
{
#if PS_ARITH_SOFT
    return ps_s64(ps_mul64((uint64_t)a, (uint64_t)b));
#else
    return a * b;
#endif
}

/* ---- 64-bit shifts by a variable amount, 0 <= n <= 63 --------------------------------- */

static inline uint64_t ps_lsl64(uint64_t v, int n)
{
#if PS_ARITH_SOFT
    const uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
    if (n >= 32) {
        return ps_u64_of(lo << (n - 32), 0);
    }
    /* lo >> 1 >> (31 - n) is lo >> (32 - n), and 0 for n == 0 (a shift by 32 is undefined) */
    return ps_u64_of(hi << n | lo >> 1 >> (31 - n), lo << n);
#else
    return v << n;
#endif
}

static inline uint64_t ps_lsr64(uint64_t v, int n)
{
#if PS_ARITH_SOFT
    const uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
    if (n >= 32) {
        return hi >> (n - 32);
    }
    return ps_u64_of(hi >> n, lo >> n | hi << 1 << (31 - n));
#else
    return v >> n;
#endif
}

/* v * 2^n for v >= 0 whose result fits int64 (a shift of a negative value is undefined). */
static inline int64_t ps_shl64(int64_t v, int n)
{
#if PS_ARITH_SOFT
    return ps_s64(ps_lsl64((uint64_t)v, n));
#else
    return v << n;
#endif
}

/* floor(v / 2^n). Callers pass v >= 0; for v < 0 it is the arithmetic shift, which is
 * what >> does on every compiler the core supports (implementation-defined in C99). */
static inline int64_t ps_asr64(int64_t v, int n)
{
#if PS_ARITH_SOFT
    return ps_s64(v < 0 ? ~ps_lsr64(~(uint64_t)v, n) : ps_lsr64((uint64_t)v, n));
#else
    return v >> n;
#endif
}

/* ---- division ------------------------------------------------------------------------ */

/* n / d and n % d for d != 0. */
static inline uint32_t ps_udiv32(uint32_t n, uint32_t d)
{
#if PS_ARITH_SOFT
    uint32_t rem;
    return ps_udivmod32_soft(n, d, &rem);
#else
    return n / d;
#endif
}

static inline uint32_t ps_umod32(uint32_t n, uint32_t d)
{
#if PS_ARITH_SOFT
    uint32_t rem;
    (void)ps_udivmod32_soft(n, d, &rem);
    return rem;
#else
    return n % d;
#endif
}

/* C99's n / d (truncated toward zero) and n % d (the sign of n), for d != 0 and not
 * INT32_MIN / -1. */
static inline int32_t ps_div32(int32_t n, int32_t d)
{
#if PS_ARITH_SOFT
    const uint32_t un = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
    const uint32_t ud = d < 0 ? 0u - (uint32_t)d : (uint32_t)d;
    const uint32_t q = ps_udiv32(un, ud);
    return ps_s32((n < 0) != (d < 0) ? 0u - q : q);
#else
    return n / d;
#endif
}

static inline int32_t ps_mod32(int32_t n, int32_t d)
{
#if PS_ARITH_SOFT
    const uint32_t un = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
    const uint32_t ud = d < 0 ? 0u - (uint32_t)d : (uint32_t)d;
    const uint32_t r = ps_umod32(un, ud);
    return ps_s32(n < 0 ? 0u - r : r);
#else
    return n % d;
#endif
}

/* ps_div32 and ps_mod32 at once (one division where the CPU has none). */
static inline int32_t ps_divmod32(int32_t n, int32_t d, int32_t *rem)
{
#if PS_ARITH_SOFT
    const uint32_t un = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
    const uint32_t ud = d < 0 ? 0u - (uint32_t)d : (uint32_t)d;
    uint32_t r;
    const uint32_t q = ps_udivmod32_soft(un, ud, &r);
    *rem = ps_s32(n < 0 ? 0u - r : r);
    return ps_s32((n < 0) != (d < 0) ? 0u - q : q);
#else
    *rem = n % d;
    return n / d;
#endif
}

/* n / d for d != 0 whose quotient is below 2^32 (ps_division_magic's). */
static inline uint32_t ps_udiv64_32(uint64_t n, uint32_t d)
{
#if PS_ARITH_SOFT
    /* long division, one bit at a time; the high word's remainder first */
    uint32_t r;
    (void)ps_udivmod32_soft((uint32_t)(n >> 32), d, &r);
    const uint32_t lo = (uint32_t)n;
    uint32_t q = 0;
    for (int i = 31; i >= 0; i--) {
        const uint32_t carry = r >> 31; /* r < d < 2^32, so 2r + 1 < 2^33 */
        r = r << 1 | (lo >> i & 1u);
        if (carry || r >= d) {
            r -= d; /* the true 2r + bit - d is below d: exact mod 2^32 */
            q |= UINT32_C(1) << i;
        }
    }
    return q;
#else
    return (uint32_t)(n / d);
#endif
}

#endif /* PS_ARITH_H */
