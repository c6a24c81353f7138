/*
 * json_row.cpp - see json_row.h.
 *
 * Why C++: Jansson builds a hash table for every object, 61 per row of a
 * 60-factor export, and read BigQuery ML's NDJSON at 22 MB/s; simdjson (Debian's
 * libsimdjson, runtime-dispatched SIMD) validates and parses at GB/s.  Debian
 * builds it with g++ against libstdc++, so this one file is compiled by g++
 * (build.zig), and nothing of the C++ standard library crosses the C
 * interface.  No exceptions: simdjson's error-code API.
 *
 * Declining whatever Jansson would judge differently keeps the two parsers
 * interchangeable on accepted rows: Jansson refuses repeated keys
 * (JSON_REJECT_DUPLICATES), "\u0000" in strings and integers outside int64,
 * which simdjson takes.
 */
#include "io/json_row.h"

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <new>

#include <simdjson.h>

using namespace simdjson;

struct mfkv_json_parser {
    dom::parser parser;
    mfkv_json_weight *weights = nullptr; /* malloc'd: no C++ library types here */
    size_t n = 0, cap = 0;
};

extern "C" mfkv_json_parser *mfkv_json_parser_new(void)
{
    return new (std::nothrow) mfkv_json_parser();
}

extern "C" void mfkv_json_parser_free(mfkv_json_parser *p)
{
    if (p) std::free(p->weights);
    delete p;
}

/* A number Jansson reads to the same double. */
static bool number(dom::element e, double *out)
{
    switch (e.type()) {
    case dom::element_type::INT64: *out = (double)e.get_int64().value_unsafe(); return true;
    case dom::element_type::DOUBLE: {
        double v = e.get_double().value_unsafe();
        /* possibly an integer literal past int64, which Jansson refuses */
        if (std::fabs(v) >= 0x1p63 && v == std::trunc(v)) return false;
        *out = v;
        return true;
    }
    default: return false;
    }
}

static bool text(dom::element e, const char **s, size_t *len)
{
    std::string_view v;
    if (e.get(v) != SUCCESS || std::memchr(v.data(), 0, v.size())) return false;
    *s = v.data();
    *len = v.size();
    return true;
}

static bool weights(mfkv_json_parser *p, dom::element e)
{
    dom::array a;
    if (e.get(a) != SUCCESS) return false;
    size_t n = a.size();
    if (n > p->cap) {
        mfkv_json_weight *grown = (mfkv_json_weight *)std::realloc(p->weights, n * sizeof *grown);
        if (!grown) return false; /* Jansson will say "out of memory" */
        p->weights = grown;
        p->cap = n;
    }
    p->n = 0;
    for (dom::element w : a) {
        dom::object o;
        if (w.get(o) != SUCCESS) return false;
        mfkv_json_weight fw;
        unsigned seen = 0;
        for (dom::key_value_pair kv : o) {
            if (kv.key == "factor" && !(seen & 1)) {
                if (kv.value.type() != dom::element_type::INT64) return false;
                fw.factor = kv.value.get_int64().value_unsafe();
                seen |= 1;
            } else if (kv.key == "weight" && !(seen & 2)) {
                if (!number(kv.value, &fw.weight)) return false;
                seen |= 2;
            } else {
                return false;
            }
        }
        if (seen != 3) return false;
        p->weights[p->n++] = fw;
    }
    return true;
}

enum { INPUT = 1, FEATURE = 2, INTERCEPT = 4, WEIGHTS = 8, TRIAL = 16 };

extern "C" int mfkv_json_entity_parse(mfkv_json_parser *p, const char *s, size_t len, mfkv_json_entity *out)
{
    dom::object obj;
    if (p->parser.parse(s, len).get(obj) != SUCCESS) return 0;
    unsigned seen = 0;
    *out = mfkv_json_entity{};
    for (dom::key_value_pair kv : obj) {
        unsigned field = kv.key == "processed_input" ? INPUT
                         : kv.key == "feature"       ? FEATURE
                         : kv.key == "intercept"     ? INTERCEPT
                         : kv.key == "factor_weights" ? WEIGHTS
                         : kv.key == "trial_id"      ? TRIAL
                                                     : 0;
        if (!field || (seen & field)) return 0;
        seen |= field;
        dom::element v = kv.value;
        switch (field) {
        case INPUT:
            if (!text(v, &out->input, &out->input_len) || out->input_len == 0) return 0;
            break;
        case FEATURE:
            if (v.type() == dom::element_type::INT64) {
                out->feature_int = v.get_int64().value_unsafe();
            } else if (!text(v, &out->feature, &out->feature_len) ||
                       (out->feature_len == sizeof "global__INTERCEPT__" - 1 &&
                        !strncasecmp(out->feature, "global__INTERCEPT__", out->feature_len))) {
                return 0; /* the global row is Jansson's: it is one line */
            }
            break;
        case INTERCEPT:
            if (!v.is_null() && !number(v, &out->intercept)) return 0;
            break;
        case WEIGHTS:
            if (!weights(p, v)) return 0;
            break;
        case TRIAL:
            if (v.is_null()) break;
            if (v.type() != dom::element_type::INT64) return 0;
            out->has_trial = 1;
            out->trial_id = v.get_int64().value_unsafe();
            break;
        }
    }
    if (seen != (INPUT | FEATURE | INTERCEPT | WEIGHTS | TRIAL) && seen != (INPUT | FEATURE | INTERCEPT | WEIGHTS))
        return 0;
    out->weights = p->weights;
    out->n_weights = p->n;
    return 1;
}
