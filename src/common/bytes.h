/*
 * bytes.h - little-endian field access for records that are only 2-byte
 * aligned (LMDB's guarantee).  memcpy compiles to a plain unaligned load on
 * x86 and keeps UBSan quiet where a pointer cast would not.
 */
#ifndef MFKV_BYTES_H
#define MFKV_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mfkv stores are little-endian; add byte swapping for this host"
#endif

static inline uint32_t mfkv_load_u32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t mfkv_load_u64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline int64_t mfkv_load_i64(const void *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline float mfkv_load_f32(const void *p) { float v; memcpy(&v, p, 4); return v; }
static inline void mfkv_put_u32(void *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void mfkv_put_u64(void *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void mfkv_put_i64(void *p, int64_t v) { memcpy(p, &v, 8); }
static inline void mfkv_put_f32(void *p, float v) { memcpy(p, &v, 4); }
static inline void mfkv_put_u32be(void *p, uint32_t v)
{
    unsigned char *b = p;
    b[0] = (unsigned char)(v >> 24); b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);  b[3] = (unsigned char)v;
}

#endif
