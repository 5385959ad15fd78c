// CRC-32 in C++: the function gen/checksummer.h declares for the exported interface
// example:codec/checksum, with the table computed at compile time.
#include "checksummer.h"
#include "wit.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; i++) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto TABLE = make_table();

std::uint32_t crc32(const std::vector<std::uint8_t> &data) {
  std::uint32_t c = 0xffffffffu;
  for (std::uint8_t b : data) c = TABLE[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

}  // namespace

std::uint32_t exports_example_codec_checksum_crc32(checksummer_list_u8_t *data) {
  // The list is ours: take_list copies it into a std::vector and frees it.
  return crc32(wit::take_list(data));
}
