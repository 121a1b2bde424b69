/*
 * Known answers for csrc/arith.h and the core's inline arithmetic built on it: every routine
 * against the plain C operator (or, for the requantization and pooling helpers, against the
 * formula they had before arith.h, written here with the operators), at the extremes,
 * exhaustively over small ranges, and on seeded random arguments of every bit length.
 *
 * tests/test_arith.py builds it twice on the host, natively and with -DPS_SOFT_ARITH (the
 * ARMv6-M versions of arith.h), and for Cortex-M0+ (-DPS_ARITH_SEMIHOST: output over
 * semihosting, run on QEMU's micro:bit, a Cortex-M0; there the operators are libgcc's
 * helpers). Each build must find no mismatch, and all must print the same lines: the case
 * count and a digest (FNV-1a) of every result, per routine.
 */
#include <stdint.h>

#include "arith.h"
#include "internal.h"
#include "requant.h"

#ifdef PS_ARITH_SEMIHOST
#include "ps_fw_semihost.h"
void ps_fw_systick(void); /* the startup code's vector table names it; SysTick stays off here */
void ps_fw_systick(void)
{
}
static void out(const char *text)
{
    ps_semihost_write0(text);
}
#else
#include <stdio.h>
static void out(const char *text)
{
    fputs(text, stdout);
}
#endif

/* ---- output without printf (the firmware build has no stdio) ------------------------------ */

static void out_u64(uint64_t v, int hex)
{
    char buf[24];
    int i = (int)sizeof buf - 1;
    buf[i] = '\0';
    do {
        const unsigned digit = hex ? (unsigned)(v & 15u) : (unsigned)(v % 10u);
        buf[--i] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        v = hex ? v >> 4 : v / 10u;
    } while (v != 0);
    if (hex) {
        while (i > (int)sizeof buf - 17) {
            buf[--i] = '0';
        }
    }
    out(buf + i);
}

/* ---- bookkeeping ---------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    uint64_t cases, failed, digest;
} tally;

static tally T;
static uint64_t total_cases, total_failed;

static void begin(const char *name)
{
    T.name = name;
    T.cases = T.failed = 0;
    T.digest = UINT64_C(0xcbf29ce484222325); /* FNV-1a offset basis */
}

static void end(void)
{
    out("arith_driver: ");
    out(T.name);
    out(" ");
    out_u64(T.cases, 0);
    out(" cases, ");
    out_u64(T.failed, 0);
    out(" failed, digest ");
    out_u64(T.digest, 1);
    out("\n");
    total_cases += T.cases;
    total_failed += T.failed;
}

/* one result: folded into the digest byte by byte (little-endian, whatever the host) */
static void check(uint64_t got, uint64_t want, uint64_t a, uint64_t b)
{
    T.cases++;
    for (int i = 0; i < 8; i++) {
        T.digest = (T.digest ^ ((got >> (8 * i)) & 0xFFu)) * UINT64_C(0x100000001b3);
    }
    if (got != want) {
        if (T.failed < 5) {
            out("FAIL ");
            out(T.name);
            out(" args ");
            out_u64(a, 1);
            out(" ");
            out_u64(b, 1);
            out(": got ");
            out_u64(got, 1);
            out(", want ");
            out_u64(want, 1);
            out("\n");
        }
        T.failed++;
    }
}

#define CHECK_S(got, want, a, b) check((uint64_t)(int64_t)(got), (uint64_t)(int64_t)(want), \
                                       (uint64_t)(int64_t)(a), (uint64_t)(int64_t)(b))
#define CHECK_U(got, want, a, b) check((uint64_t)(got), (uint64_t)(want), (uint64_t)(a), (uint64_t)(b))

static uint32_t rng = 0x2545F491u;

static uint32_t rnd(void)
{
    uint32_t x = rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng = x;
}

/* (one call per statement: the order of two calls in one expression is unspecified, and the
 * sequence must be the same on every compiler for the digests to agree) */
static uint64_t rnd64(void)
{
    const uint64_t hi = rnd();
    return hi << 32 | rnd();
}

/* random, with a random bit length (0..64), so small and large values are equally common */
static uint64_t rnd_bits64(void)
{
    const unsigned width = rnd() % 65u;
    return width == 0 ? 0 : rnd64() >> (64u - width);
}

static uint32_t rnd_bits32(void)
{
    const unsigned width = rnd() % 33u;
    return width == 0 ? 0 : rnd() >> (32u - width);
}

static int32_t rnd_s32(void)
{
    const uint32_t m = rnd_bits32();
    return (rnd() & 1u) ? ps_s32(0u - m) : ps_s32(m);
}

/* values where carries, signs and halves change */
static const uint32_t EDGE32[] = {
    0u, 1u, 2u, 3u, 5u, 7u, 0xFFu, 0x100u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu, 0x10000u, 0x10001u,
    0x1FFFFu, 0x12345678u, 0x3FFFFFFFu, 0x40000000u, 0x55555555u, 0x7FFFFFFEu, 0x7FFFFFFFu,
    0x80000000u, 0x80000001u, 0xAAAAAAAAu, 0xBFFFFFFFu, 0xC0000000u, 0xDEADBEEFu, 0xFFFEFFFFu,
    0xFFFF0000u, 0xFFFF0001u, 0xFFFF8000u, 0xFFFFFFFDu, 0xFFFFFFFEu, 0xFFFFFFFFu};
#define N_EDGE32 (sizeof EDGE32 / sizeof EDGE32[0])

static uint64_t edge64(size_t i, size_t j)
{
    return (uint64_t)EDGE32[i] << 32 | EDGE32[j];
}

/* ---- arith.h against the operators ------------------------------------------------------------ */

static void test_multiply(uint32_t random_cases)
{
    begin("umull");
    for (size_t i = 0; i < N_EDGE32; i++) {
        for (size_t j = 0; j < N_EDGE32; j++) {
            const uint32_t a = EDGE32[i], b = EDGE32[j];
            CHECK_U(ps_umull(a, b), (uint64_t)a * b, a, b);
        }
    }
    for (uint32_t a = 0; a < 512; a++) { /* every pair of 9-bit factors */
        for (uint32_t b = 0; b < 512; b++) {
            CHECK_U(ps_umull(a, b), (uint64_t)a * b, a, b);
        }
    }
    for (uint32_t k = 0; k < random_cases; k++) {
        const uint32_t a = rnd_bits32(), b = rnd_bits32();
        CHECK_U(ps_umull(a, b), (uint64_t)a * b, a, b);
    }
    end();

    begin("smull");
    for (size_t i = 0; i < N_EDGE32; i++) {
        for (size_t j = 0; j < N_EDGE32; j++) {
            const int32_t a = ps_s32(EDGE32[i]), b = ps_s32(EDGE32[j]);
            CHECK_S(ps_smull(a, b), (int64_t)a * (int64_t)b, a, b);
        }
    }
    for (int32_t a = -256; a < 256; a++) {
        for (int32_t b = -256; b < 256; b++) {
            CHECK_S(ps_smull(a, b), (int64_t)a * (int64_t)b, a, b);
        }
    }
    for (uint32_t k = 0; k < random_cases; k++) {
        const int32_t a = rnd_s32(), b = rnd_s32();
        CHECK_S(ps_smull(a, b), (int64_t)a * (int64_t)b, a, b);
    }
    end();

    begin("mul64");
    for (size_t i = 0; i < N_EDGE32; i += 3) {
        for (size_t j = 0; j < N_EDGE32; j += 2) {
            for (size_t k = 0; k < N_EDGE32; k += 5) {
                const uint64_t a = edge64(i, j), b = edge64(k, (i + j + k) % N_EDGE32);
                CHECK_U(ps_mul64(a, b), a * b, a, b);
            }
        }
    }
    for (uint32_t k = 0; k < random_cases; k++) {
        const uint64_t a = rnd_bits64(), b = rnd_bits64();
        CHECK_U(ps_mul64(a, b), a * b, a, b);
    }
    end();

    begin("smul64"); /* products that fit int64 (the native operator overflows otherwise) */
    for (uint32_t k = 0; k < random_cases; k++) {
        const unsigned wa = rnd() % 63u, wb = rnd() % (63u - wa); /* |a| < 2^wa, |b| < 2^wb */
        const int64_t ma = wa == 0 ? 0 : (int64_t)(rnd64() >> (64u - wa));
        const int64_t mb = wb == 0 ? 0 : (int64_t)(rnd64() >> (64u - wb));
        const int64_t a = (rnd() & 1u) ? -ma : ma, b = (rnd() & 1u) ? -mb : mb;
        CHECK_S(ps_smul64(a, b), a * b, a, b);
    }
    for (int32_t a = -300; a <= 300; a += 3) { /* a 64-bit factor times a small one */
        for (size_t i = 0; i < N_EDGE32; i++) {
            const int64_t b = (int64_t)(EDGE32[i] >> 1) << 22; /* < 2^53 */
            CHECK_S(ps_smul64(a, b), (int64_t)a * b, a, b);
            CHECK_S(ps_smul64(b, -a), b * (int64_t)-a, b, -a);
        }
    }
    end();
}

static void test_shifts(uint32_t random_values)
{
    begin("lsl64/lsr64");
    for (int n = 0; n < 64; n++) {
        for (size_t i = 0; i < N_EDGE32; i++) {
            for (size_t j = 0; j < N_EDGE32; j += 4) {
                const uint64_t v = edge64(i, j);
                CHECK_U(ps_lsl64(v, n), v << n, v, n);
                CHECK_U(ps_lsr64(v, n), v >> n, v, n);
            }
        }
        for (uint32_t k = 0; k < random_values; k++) {
            const uint64_t v = rnd64();
            CHECK_U(ps_lsl64(v, n), v << n, v, n);
            CHECK_U(ps_lsr64(v, n), v >> n, v, n);
        }
    }
    end();

    begin("shl64/asr64");
    for (int n = 0; n < 64; n++) {
        for (size_t i = 0; i < N_EDGE32; i++) {
            for (size_t j = 0; j < N_EDGE32; j += 4) {
                const int64_t v = ps_s64(edge64(i, j));
                /* >> of a negative value: arithmetic on every compiler this builds with */
                CHECK_S(ps_asr64(v, n), v >> n, v, n);
            }
        }
        for (uint32_t k = 0; k < random_values; k++) {
            const int64_t v = ps_s64(rnd64());
            CHECK_S(ps_asr64(v, n), v >> n, v, n);
            /* v << n fits: v < 2^(63 - n) */
            const int64_t small = n == 63 ? 0 : (int64_t)(rnd64() >> (n + 1));
            CHECK_S(ps_shl64(small, n), small << n, small, n);
        }
        const int64_t top = n == 63 ? 0 : (int64_t)(UINT64_MAX >> (n + 1)); /* the largest that fits */
        CHECK_S(ps_shl64(top, n), top << n, top, n);
        CHECK_S(ps_shl64(1, n == 63 ? 62 : n), (int64_t)1 << (n == 63 ? 62 : n), 1, n);
    }
    end();
}

static void test_division(uint32_t random_cases)
{
    begin("udiv32/umod32");
    for (uint32_t n = 0; n < 1024; n++) { /* exhaustive: every n < 2^10, every d <= 2^8 */
        for (uint32_t d = 1; d <= 256; d++) {
            CHECK_U(ps_udiv32(n, d), n / d, n, d);
            CHECK_U(ps_umod32(n, d), n % d, n, d);
        }
    }
    for (size_t i = 0; i < N_EDGE32; i++) {
        for (size_t j = 1; j < N_EDGE32; j++) {
            const uint32_t n = EDGE32[i], d = EDGE32[j];
            CHECK_U(ps_udiv32(n, d), n / d, n, d);
            CHECK_U(ps_umod32(n, d), n % d, n, d);
        }
    }
    for (uint32_t k = 0; k < random_cases; k++) {
        const uint32_t n = rnd_bits32(), r = rnd_bits32(), d = r == 0 ? 1 : r;
        CHECK_U(ps_udiv32(n, d), n / d, n, d);
        CHECK_U(ps_umod32(n, d), n % d, n, d);
    }
    end();

    begin("div32/mod32/divmod32");
    for (int32_t n = -512; n < 512; n++) { /* exhaustive over small signed values */
        for (int32_t d = -64; d <= 64; d++) {
            if (d != 0) {
                CHECK_S(ps_div32(n, d), n / d, n, d);
                CHECK_S(ps_mod32(n, d), n % d, n, d);
                int32_t r;
                CHECK_S(ps_divmod32(n, d, &r), n / d, n, d);
                CHECK_S(r, n % d, n, d);
            }
        }
    }
    for (size_t i = 0; i < N_EDGE32; i++) {
        for (size_t j = 1; j < N_EDGE32; j++) {
            const int32_t n = ps_s32(EDGE32[i]), d = ps_s32(EDGE32[j]);
            if (n == INT32_MIN && d == -1) {
                continue; /* overflows: undefined in C, never asked */
            }
            CHECK_S(ps_div32(n, d), n / d, n, d);
            CHECK_S(ps_mod32(n, d), n % d, n, d);
            int32_t r;
            CHECK_S(ps_divmod32(n, d, &r), n / d, n, d);
            CHECK_S(r, n % d, n, d);
        }
    }
    for (uint32_t k = 0; k < random_cases; k++) {
        const int32_t n = rnd_s32();
        int32_t d = rnd_s32();
        if (d == 0 || (n == INT32_MIN && d == -1)) {
            d = 7;
        }
        CHECK_S(ps_div32(n, d), n / d, n, d);
        CHECK_S(ps_mod32(n, d), n % d, n, d);
        int32_t r;
        CHECK_S(ps_divmod32(n, d, &r), n / d, n, d);
        CHECK_S(r, n % d, n, d);
    }
    end();

    begin("udiv64_32"); /* quotients below 2^32: n = q * d + r */
    for (uint32_t k = 0; k < random_cases; k++) {
        uint32_t d = rnd_bits32();
        d = d == 0 ? 1 : d;
        const uint64_t q = rnd_bits32();
        const uint64_t n = q * d + rnd() % d;
        CHECK_U(ps_udiv64_32(n, d), (uint32_t)(n / d), n, d);
    }
    for (size_t i = 0; i < N_EDGE32; i++) {
        for (size_t j = 1; j < N_EDGE32; j++) {
            const uint32_t d = EDGE32[j];
            const uint64_t n = (uint64_t)EDGE32[i] * d + (d - 1u);
            CHECK_U(ps_udiv64_32(n, d), (uint32_t)(n / d), n, d);
        }
    }
    end();
}

/* ---- the core's inline arithmetic against its formulas before arith.h ------------------------- */

static int32_t ref_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t ref_rounding_divide_by_pot(int32_t x, int e)
{
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    int32_t quotient = x >= 0 ? (x >> e) : (int32_t)(-((-(int64_t)x + mask) >> e));
    return quotient + (remainder > threshold ? 1 : 0);
}

static int32_t ref_mbqm_double(int32_t x, int32_t multiplier, int32_t shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    int32_t scaled = ps_wrap32((int64_t)((uint64_t)(uint32_t)x << left));
    return ref_rounding_divide_by_pot(ref_srdhm(scaled, multiplier), right);
}

static int32_t ref_mbqm_single(int32_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - shift;
    int64_t prod = (int64_t)x * (int64_t)multiplier + ((int64_t)1 << (total - 1));
    int64_t q = prod >= 0 ? (prod >> total)
                          : -(int64_t)((((uint64_t)(-(prod + 1))) >> total) + 1);
    return ps_wrap32(q);
}

static int32_t ref_floor_shift(int32_t sum, int k)
{
    return sum >= 0 ? (sum >> k) : (int32_t)(-((-(int64_t)sum + ((int64_t)1 << k) - 1) >> k));
}

/* SPEC.md's average, exactly: -sum + half is taken in 64 bits (it can pass INT32_MAX) */
static int32_t ref_average(int32_t sum, int32_t count, ps_pool_rounding rounding)
{
    int k = ps_exact_log2(count);
    int32_t half = count / 2;
    if (rounding == PS_ROUND_FLOOR) {
        return ref_floor_shift(sum, k);
    }
    if (rounding == PS_ROUND_HALF_UP) {
        return ref_floor_shift(sum + half, k);
    }
    if (k >= 0) {
        return sum > 0 ? ((sum + half) >> k) : -((-sum + half) >> k);
    }
    return sum > 0 ? (sum + half) / count : (int32_t)-((-(int64_t)sum + half) / count);
}

static const int32_t MULTIPLIERS[] = {0, 1 << 30, (1 << 30) + 1, 1518500250, 2147483646, INT32_MAX};
#define N_MULTIPLIERS (sizeof MULTIPLIERS / sizeof MULTIPLIERS[0])

static void test_requant(uint32_t random_cases)
{
    begin("srdhm");
    for (size_t i = 0; i < N_EDGE32; i++) {
        for (size_t j = 0; j < N_EDGE32; j++) {
            const int32_t a = ps_s32(EDGE32[i]), b = ps_s32(EDGE32[j]);
            CHECK_S(ps_srdhm(a, b), ref_srdhm(a, b), a, b);
        }
    }
    for (uint32_t k = 0; k < random_cases; k++) {
        const int32_t a = rnd_s32(), b = rnd_s32();
        CHECK_S(ps_srdhm(a, b), ref_srdhm(a, b), a, b);
    }
    end();

    begin("rounding_divide_by_pot");
    for (int e = 0; e <= 31; e++) {
        for (int32_t x = -1100; x <= 1100; x++) {
            CHECK_S(ps_rounding_divide_by_pot(x, e), ref_rounding_divide_by_pot(x, e), x, e);
        }
        for (size_t i = 0; i < N_EDGE32; i++) {
            const int32_t x = ps_s32(EDGE32[i]);
            CHECK_S(ps_rounding_divide_by_pot(x, e), ref_rounding_divide_by_pot(x, e), x, e);
        }
        for (uint32_t k = 0; k < random_cases / 32; k++) {
            const int32_t x = rnd_s32();
            CHECK_S(ps_rounding_divide_by_pot(x, e), ref_rounding_divide_by_pot(x, e), x, e);
        }
    }
    end();

    begin("mbqm_double/single"); /* every shift, the extreme and random multipliers */
    for (int32_t shift = -31; shift <= 30; shift++) {
        for (uint32_t k = 0; k < random_cases / 16; k++) {
            const int32_t x = k < N_EDGE32 ? ps_s32(EDGE32[k]) : rnd_s32();
            const int32_t m = k % 4 == 0 ? MULTIPLIERS[(k / 4) % N_MULTIPLIERS]
                                         : (int32_t)(UINT32_C(0x40000000) | (rnd() >> 2));
            CHECK_S(ps_mbqm_double(x, m, shift), ref_mbqm_double(x, m, shift), x, m);
            CHECK_S(ps_mbqm_single(x, m, shift), ref_mbqm_single(x, m, shift), x, m);
        }
    }
    end();

    begin("requantize"); /* + output_zp, wrapped, clamped */
    for (uint32_t k = 0; k < random_cases; k++) {
        const int32_t acc = rnd_s32();
        const int32_t m = k % 8 == 0 ? MULTIPLIERS[k / 8 % N_MULTIPLIERS]
                                     : (int32_t)(UINT32_C(0x40000000) | (rnd() >> 2));
        const int32_t shift = (int32_t)(rnd() % 62u) - 31;
        const int32_t zp = (int32_t)(rnd() % 256u) - 128;
        const int32_t lo = (int32_t)(rnd() % 256u) - 128, hi = lo + (int32_t)(rnd() % (uint32_t)(128 - lo));
        const ps_quant_params q = {0, zp, NULL, NULL, lo, hi,
                                   (k & 1u) ? PS_REQUANT_SINGLE : PS_REQUANT_DOUBLE, PS_PATH_REF};
        const int32_t scaled = (k & 1u) ? ref_mbqm_single(acc, m, shift) : ref_mbqm_double(acc, m, shift);
        int32_t want = ps_wrap32((int64_t)scaled + zp);
        want = want < lo ? lo : want > hi ? hi : want;
        CHECK_S(ps_requantize(acc, m, shift, &q), want, acc, m);
    }
    end();
}

static void test_pooling(uint32_t random_cases)
{
    begin("floor_shift");
    for (int k = 0; k <= 31; k++) {
        for (int32_t s = -700; s <= 700; s++) {
            CHECK_S(ps_floor_shift(s, k), ref_floor_shift(s, k), s, k);
        }
        for (size_t i = 0; i < N_EDGE32; i++) {
            const int32_t s = ps_s32(EDGE32[i]);
            CHECK_S(ps_floor_shift(s, k), ref_floor_shift(s, k), s, k);
        }
    }
    end();

    begin("pool_average"); /* window sums of int8 values; counts up to the core's 2^31 / 128 */
    ps_pool_params pool = {1, 1, 1, 1, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_REF};
    int32_t sums[16];
    int8_t run[16];
    for (uint32_t k = 0; k < random_cases; k++) {
        int32_t count;
        switch (k % 4) {
        case 0:
            count = (int32_t)(k / 4 % 300u) + 1; /* every count up to 300, in turn */
            break;
        case 1:
            count = INT32_C(1) << (rnd() % 24u); /* powers of two, every rounding */
            break;
        default:
            count = (int32_t)(rnd_bits32() % (uint32_t)(INT32_MAX / 128)) + 1;
            break;
        }
        const int pow2 = ps_exact_log2(count) >= 0;
        pool.rounding = pow2 ? (ps_pool_rounding)(rnd() % 3u) : PS_ROUND_TFLITE;
        pool.act_min = -128 + (int32_t)(rnd() % 8u);
        pool.act_max = 127 - (int32_t)(rnd() % 8u);
        const int32_t len = (int32_t)(rnd() % 16u) + 1;
        for (int32_t i = 0; i < len; i++) {
            /* a sum of count int8 values: within [-128 count, 127 count] */
            const int64_t span = (int64_t)count * 255 + 1;
            sums[i] = (int32_t)((int64_t)(rnd64() % (uint64_t)span) - (int64_t)count * 128);
            if (i == 0 && k % 7 == 0) {
                sums[i] = (k % 14 == 0) ? -128 * count : 127 * count;
            }
        }
        ps_pool_average_run(sums, count, len, &pool, run);
        for (int32_t i = 0; i < len; i++) {
            int32_t want = ref_average(sums[i], count, pool.rounding);
            want = want < pool.act_min ? pool.act_min : want > pool.act_max ? pool.act_max : want;
            CHECK_S(ps_pool_average(sums[i], count, &pool), want, sums[i], count);
            CHECK_S(run[i], want, sums[i], count);
        }
    }
    end();

    begin("division_magic"); /* the x86 paths' pool divisor, and its promise */
    for (uint32_t k = 0; k < random_cases / 4; k++) {
        const int32_t d = k < 5000 ? (int32_t)k + 1 : (int32_t)(rnd_bits32() >> 1) + 1;
        uint32_t m;
        int shift;
        ps_division_magic(d, &m, &shift);
        int l = 0;
        while (((int64_t)1 << l) < d) {
            l++;
        }
        CHECK_U(m, (uint32_t)((UINT64_C(1) << (31 + l)) / (uint64_t)d + 1u), d, l);
        CHECK_S(shift, 31 + l, d, l);
        const uint32_t v = rnd() >> 1;
        CHECK_U((uint32_t)(((uint64_t)v * m) >> shift), v / (uint32_t)d, v, d);
    }
    end();
}

int main(void)
{
    const uint32_t random_cases = 20000;
    out(PS_ARITH_SOFT ? "arith_driver: arith.h built with 32-bit operations only (soft)\n"
                      : "arith_driver: arith.h built as the C operators (native)\n");
    test_multiply(random_cases);
    test_shifts(random_cases / 64);
    test_division(random_cases);
    test_requant(random_cases);
    test_pooling(random_cases);
    out("arith_driver: ");
    out_u64(total_cases, 0);
    out(" cases, ");
    out_u64(total_failed, 0);
    out(" failed\n");
    return total_failed == 0 ? 0 : 1;
}
