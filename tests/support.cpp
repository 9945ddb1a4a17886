// tests/support.cpp: file, base64 and digest helpers for the tests (OpenSSL one-shot calls only).
#include "support.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hookrx_test {

namespace {

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace

std::string shared_path(std::string_view relative) {
  std::string path = HOOKRX_SHARED_DIR;
  path += '/';
  path += relative;
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  return out.str();
}

std::string base64_decode(std::string_view encoded) {
  if (encoded.empty()) return {};
  if (encoded.size() % 4 != 0 || encoded.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::invalid_argument("base64 input length is not a multiple of 4");
  }
  std::string out(encoded.size() / 4 * 3, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(encoded.data()), static_cast<int>(encoded.size()));
  if (n < 0) throw std::invalid_argument("invalid base64");
  // EVP_DecodeBlock decodes padding as zero bytes: drop one byte per '='.
  std::size_t padding = 0;
  if (encoded.back() == '=') ++padding;
  if (encoded.size() >= 2 && encoded[encoded.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (key.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("key too long");
  // HMAC() with a null key pointer and length 0 is fine in OpenSSL 3, but keep a valid pointer.
  static const unsigned char empty = 0;
  const unsigned char* key_ptr = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  const unsigned char* data_ptr = body.empty() ? &empty : reinterpret_cast<const unsigned char*>(body.data());
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, body.size(), mac, &mac_len) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return to_hex(mac, mac_len);
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return to_hex(md, md_len);
}

std::string to_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace hookrx_test
