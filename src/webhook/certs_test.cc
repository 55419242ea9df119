// The webhook's CA and serving certificate: made once, reused after, and a broken set reported.
#include "webhook/certs.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "base/file_util.h"

namespace asb::webhook {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "webhook-certs-XXXXXX";
    path_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Verifies `c.cert_pem` against `c.ca_pem` as a TLS client would for `host`.
bool VerifiesFor(const WebhookCerts& c, const std::string& host) {
  BIO* cb = BIO_new_mem_buf(c.ca_pem.data(), static_cast<int>(c.ca_pem.size()));
  X509* ca = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* lb = BIO_new_mem_buf(c.cert_pem.data(), static_cast<int>(c.cert_pem.size()));
  X509* leaf = PEM_read_bio_X509(lb, nullptr, nullptr, nullptr);
  BIO_free(lb);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  if (host.find_first_not_of("0123456789.") == std::string::npos)
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(leaf);
  X509_free(ca);
  return ok;
}

TEST(WebhookCerts, ServingCertChainsToTheCaForEveryServiceName) {
  std::vector<std::string> hosts =
      ServiceDnsNames("agent-sandbox-webhook-service", "agent-sandbox-system", "cluster.local");
  ASSERT_EQ(hosts.size(), 4u);
  EXPECT_EQ(hosts[2], "agent-sandbox-webhook-service.agent-sandbox-system.svc");
  hosts.push_back("127.0.0.1");
  auto certs = GenerateWebhookCerts(hosts);
  ASSERT_TRUE(certs) << certs.error().message;
  EXPECT_TRUE(CheckWebhookCerts(*certs));
  EXPECT_NE(certs->ca_pem, certs->cert_pem);
  for (const auto& h : hosts) EXPECT_TRUE(VerifiesFor(*certs, h)) << h;
  EXPECT_FALSE(VerifiesFor(*certs, "other.example"));
  // Another CA does not vouch for this certificate.
  auto other = GenerateWebhookCerts({"x"});
  ASSERT_TRUE(other);
  WebhookCerts mixed = *certs;
  mixed.ca_pem = other->ca_pem;
  EXPECT_FALSE(CheckWebhookCerts(mixed));
  EXPECT_FALSE(VerifiesFor(mixed, hosts[0]));
  mixed = *certs;
  mixed.key_pem = other->key_pem;
  EXPECT_FALSE(CheckWebhookCerts(mixed));
  EXPECT_FALSE(GenerateWebhookCerts({}));
}

TEST(WebhookCerts, MadeOnceThenReusedAndABrokenSetIsReported) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string certs_dir = dir.path() + "/certs";
  auto first = LoadOrCreateWebhookCerts(certs_dir, {"svc.ns.svc"});
  ASSERT_TRUE(first) << first.error().message;
  struct stat st {};
  ASSERT_EQ(stat((certs_dir + "/tls.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateWebhookCerts(certs_dir, {"svc.ns.svc"});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->ca_pem, first->ca_pem);  // the caBundle in the CRDs stays valid
  EXPECT_EQ(second->key_pem, first->key_pem);

  ASSERT_TRUE(AtomicWriteFile(certs_dir + "/tls.key", "not a key"));
  auto broken = LoadOrCreateWebhookCerts(certs_dir, {"svc.ns.svc"});
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, Code::kInvalidArgument);
  EXPECT_NE(broken.error().message.find("tls.key"), std::string::npos);
  ASSERT_EQ(unlink((certs_dir + "/tls.key").c_str()), 0);
  auto partial = LoadOrCreateWebhookCerts(certs_dir, {"svc.ns.svc"});
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message.find("only some"), std::string::npos);
}

}  // namespace
}  // namespace asb::webhook
