// Base64 (RFC 4648, standard alphabet, with padding), in C: the functions
// gen/encoder.h declares for the exported interface example:codec/base64.
//
// Exported functions own their parameters (freed here) and return memory from
// malloc, which the bindings free after the call.
#include "encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Memory for a returned list or string; none for an empty one (the bindings free a
// returned value only when its length is not 0).
static void *checked_malloc(size_t size) {
  if (size == 0) return NULL;
  void *p = malloc(size);
  if (!p) abort();
  return p;
}

void exports_example_codec_base64_encode(encoder_list_u8_t *data, encoder_string_t *ret) {
  size_t out_len = (data->len + 2) / 3 * 4;
  uint8_t *out = checked_malloc(out_len);
  size_t o = 0;
  for (size_t i = 0; i < data->len; i += 3) {
    size_t left = data->len - i;
    uint32_t n = (uint32_t)data->ptr[i] << 16;
    if (left > 1) n |= (uint32_t)data->ptr[i + 1] << 8;
    if (left > 2) n |= data->ptr[i + 2];
    out[o++] = ALPHABET[(n >> 18) & 63];
    out[o++] = ALPHABET[(n >> 12) & 63];
    out[o++] = left > 1 ? ALPHABET[(n >> 6) & 63] : '=';
    out[o++] = left > 2 ? ALPHABET[n & 63] : '=';
  }
  ret->ptr = out;
  ret->len = out_len;
  encoder_list_u8_free(data);
}

// The value of a base64 digit, or -1.
static int digit(uint8_t c) {
  const char *at = c ? strchr(ALPHABET, c) : NULL;
  return at ? (int)(at - ALPHABET) : -1;
}

static bool fail(encoder_string_t *text, encoder_string_t *err, const char *why) {
  encoder_string_dup(err, why);
  encoder_string_free(text);
  return false;
}

bool exports_example_codec_base64_decode(encoder_string_t *text, encoder_list_u8_t *ret,
                                         encoder_string_t *err) {
  size_t len = text->len;
  if (len % 4 != 0) return fail(text, err, "the length is not a multiple of 4");
  size_t padding = 0;
  if (len > 0 && text->ptr[len - 1] == '=') padding++;
  if (len > 1 && text->ptr[len - 2] == '=') padding++;
  size_t out_len = len / 4 * 3 - padding;
  uint8_t *out = checked_malloc(out_len);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 4) {
    uint32_t n = 0;
    for (size_t j = 0; j < 4; j++) {
      uint8_t c = text->ptr[i + j];
      int d = digit(c);
      bool pad = c == '=' && i + j >= len - padding;
      if (d < 0 && !pad) {
        free(out);
        char why[64];
        snprintf(why, sizeof why, "`%c` at %zu is not a base64 character", c, i + j);
        return fail(text, err, why);
      }
      n = n << 6 | (uint32_t)(pad ? 0 : d);
    }
    if (o < out_len) out[o++] = (uint8_t)(n >> 16);
    if (o < out_len) out[o++] = (uint8_t)(n >> 8);
    if (o < out_len) out[o++] = (uint8_t)n;
  }
  ret->ptr = out;
  ret->len = out_len;
  encoder_string_free(text);
  return true;
}
