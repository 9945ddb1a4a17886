#include "signing.hpp"

#include <openssl/evp.h>

#include <array>

namespace hookrx::cli {

result<std::string> perfectparser_signature(std::string_view secret, std::string_view body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t size = 0;
  // An empty key is passed as a one-byte buffer of length 0: EVP_Q_mac rejects a null key.
  static const unsigned char no_key = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&no_key) : static_cast<const void*>(secret.data());
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key, secret.size(),
                reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac.data(), mac.size(),
                &size) == nullptr)
    return error(errc::invalid_config, "OpenSSL could not compute HMAC-SHA256");
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += hex[mac[i] >> 4U];
    out += hex[mac[i] & 0xFU];
  }
  return out;
}

}  // namespace hookrx::cli
