// TLS: certificates are verified by default, the host name (here an IP SAN) is checked, and a CA
// given in the options is trusted. The certificates are made here with OpenSSL's API; the server
// is httplib's SSLServer on loopback.
#include <doctest/doctest.h>

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>

#include "hookrx/api.hpp"

namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1"), written as PEM files.
bool make_certificate(const std::string& san, const std::string& cert_path, const std::string& key_path) {
  std::unique_ptr<EVP_PKEY, pkey_free> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  std::unique_ptr<X509, x509_free> x(X509_new());
  if (!key || !x) return false;
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("hookrx test"), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                                   std::pair<int, std::string>{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) return false;
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) return false;
  FILE* c = std::fopen(cert_path.c_str(), "w");
  FILE* k = std::fopen(key_path.c_str(), "w");
  const bool ok = c != nullptr && k != nullptr && PEM_write_X509(c, x.get()) == 1 &&
                  PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (c != nullptr) std::fclose(c);
  if (k != nullptr) std::fclose(k);
  return ok;
}

struct tls_server {
  // Named per process: ctest runs the cases of this file as parallel processes in one directory,
  // and a shared name let one case remove or rewrite the files another was loading (seen in CI:
  // SSLServer::is_valid() false).
  std::string cert = "hookrx_api_tls_cert_" + std::to_string(::getpid()) + ".pem";
  std::string key = "hookrx_api_tls_key_" + std::to_string(::getpid()) + ".pem";
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
  std::atomic<int> served{0};
  int port = 0;

  explicit tls_server(const std::string& san) {
    REQUIRE(make_certificate(san, cert, key));
    server = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
    REQUIRE(server->is_valid());
    server->Get("/v1/me", [this](const httplib::Request&, httplib::Response& res) {
      ++served;
      res.set_content(R"({"user":{"user_id":"u"}})", "application/json");
    });
    port = server->bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server->listen_after_bind(); });
    while (!server->is_running()) std::this_thread::yield();
  }
  ~tls_server() {
    server->stop();
    thread.join();
    std::remove(cert.c_str());
    std::remove(key.c_str());
  }
  [[nodiscard]] hookrx::api_result<hookrx::pp_user> me(bool trust) const {
    hookrx::perfectparser_client_options o;
    o.base_url = "https://127.0.0.1:" + std::to_string(port);
    o.api_key = "pp_test_tls_key";
    o.retry.max_attempts = 1;
    o.budget = hookrx::rate_budget::create({});
    if (trust) o.ca_cert_file = cert;
    auto pp = hookrx::perfectparser_client::create(o);
    REQUIRE(pp);
    return pp->me();
  }
};

}  // namespace

TEST_SUITE("api client TLS") {
  TEST_CASE("a certificate nobody vouches for is refused before any request is sent") {
    tls_server s("IP:127.0.0.1");
    auto r = s.me(false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hookrx::api_errc::transport);
    CHECK(s.served == 0);
  }

  TEST_CASE("a certificate from a trusted CA for the right address is accepted") {
    tls_server s("IP:127.0.0.1");
    auto r = s.me(true);
    REQUIRE(r);
    CHECK(r->user_id == "u");
    CHECK(s.served == 1);
  }

  TEST_CASE("a trusted certificate for another address is refused") {
    tls_server s("IP:127.0.0.2");
    auto r = s.me(true);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hookrx::api_errc::transport);
    CHECK(s.served == 0);
  }
}
