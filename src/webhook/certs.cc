#include "webhook/certs.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>

#include "base/file_util.h"

namespace asb::webhook {

namespace {

constexpr long kValiditySeconds = 365L * 24 * 3600;  // upstream's one year

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;
using Bio = std::unique_ptr<BIO, Deleter>;

Error SslError(const char* what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  return Error{Code::kInternal, std::string(what) + ": " + buf};
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Bio MemBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Cert ReadCert(const std::string& pem) {
  Bio b = MemBio(pem);
  return Cert(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
}

Key ReadKey(const std::string& pem) {
  Bio b = MemBio(pem);
  return Key(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
}

Result<std::string> CertPem(X509* x) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || !PEM_write_bio_X509(b.get(), x)) return tl::unexpected(SslError("PEM_write_bio_X509"));
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || !PEM_write_bio_PrivateKey(b.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    return tl::unexpected(SslError("PEM_write_bio_PrivateKey"));
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// A certificate for `key` named `cn`, issued by `issuer` (itself when null) and signed with
// `signer`, with the given v3 extensions.
Result<Cert> MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* signer,
                      const std::vector<std::pair<int, std::string>>& exts) {
  Cert x(X509_new());
  if (!x) return tl::unexpected(SslError("X509_new"));
  X509_set_version(x.get(), 2);
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial));
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial >> 1);
  // An hour of slack for clock skew between this host and kube-apiserver (upstream's too).
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), kValiditySeconds);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) return tl::unexpected(SslError("X509V3_EXT_conf_nid"));
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x.get(), signer, EVP_sha256()) == 0) return tl::unexpected(SslError("X509_sign"));
  return x;
}

Status WriteCerts(const std::string& dir, const WebhookCerts& c) {
  ASB_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  ASB_RETURN_IF_ERROR(AtomicWriteFile(dir + "/tls.key", c.key_pem, 0600));
  ASB_RETURN_IF_ERROR(AtomicWriteFile(dir + "/tls.crt", c.cert_pem, 0644));
  return AtomicWriteFile(dir + "/ca.crt", c.ca_pem, 0644);
}

}  // namespace

std::vector<std::string> ServiceDnsNames(const std::string& service, const std::string& ns,
                                         const std::string& cluster_domain) {
  return {service, service + "." + ns, service + "." + ns + ".svc",
          service + "." + ns + ".svc." + cluster_domain};
}

Result<WebhookCerts> GenerateWebhookCerts(const std::vector<std::string>& hosts) {
  std::string san;
  for (const auto& h : hosts) {
    if (h.empty()) continue;
    san += (san.empty() ? "" : ",") + std::string(IsIp(h) ? "IP:" : "DNS:") + h;
  }
  if (san.empty())
    return MakeError(Code::kInvalidArgument, "a serving certificate needs at least one host");
  Key ca_key(EVP_EC_gen("P-256"));
  Key key(EVP_EC_gen("P-256"));
  if (!ca_key || !key) return tl::unexpected(SslError("EVP_EC_gen"));
  ASB_ASSIGN_OR_RETURN(
      Cert ca, MakeCert(ca_key.get(), "agent-sandbox-conversion-webhook-ca", nullptr, ca_key.get(),
                        {{NID_basic_constraints, "critical,CA:TRUE"},
                         {NID_key_usage, "critical,keyCertSign,digitalSignature"},
                         {NID_subject_key_identifier, "hash"}}));
  ASB_ASSIGN_OR_RETURN(Cert leaf, MakeCert(key.get(), hosts.front(), ca.get(), ca_key.get(),
                                           {{NID_basic_constraints, "critical,CA:FALSE"},
                                            {NID_key_usage, "critical,digitalSignature"},
                                            {NID_ext_key_usage, "serverAuth"},
                                            {NID_authority_key_identifier, "keyid:always"},
                                            {NID_subject_alt_name, san}}));
  WebhookCerts out;
  ASB_ASSIGN_OR_RETURN(out.ca_pem, CertPem(ca.get()));
  ASB_ASSIGN_OR_RETURN(out.cert_pem, CertPem(leaf.get()));
  // The CA's key is dropped here: nothing but a new CA (and a new caBundle) can sign again.
  ASB_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  return out;
}

Status CheckWebhookCerts(const WebhookCerts& c) {
  Cert cert = ReadCert(c.cert_pem);
  Key key = ReadKey(c.key_pem);
  if (!cert) return MakeError(Code::kInvalidArgument, "tls.crt is not a PEM certificate");
  if (!key) return MakeError(Code::kInvalidArgument, "tls.key is not a PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return MakeError(Code::kInvalidArgument, "tls.key does not match tls.crt");
  if (c.ca_pem.empty()) return OkStatus();
  Cert ca = ReadCert(c.ca_pem);
  if (!ca) return MakeError(Code::kInvalidArgument, "ca.crt is not a PEM certificate");
  Key ca_pub(X509_get_pubkey(ca.get()));
  if (!ca_pub || X509_verify(cert.get(), ca_pub.get()) != 1)
    return MakeError(Code::kInvalidArgument, "tls.crt is not signed by ca.crt");
  return OkStatus();
}

Result<WebhookCerts> LoadOrCreateWebhookCerts(const std::string& dir,
                                              const std::vector<std::string>& hosts) {
  const std::string files[] = {dir + "/ca.crt", dir + "/tls.crt", dir + "/tls.key"};
  int present = 0;
  for (const auto& f : files) present += PathExists(f) ? 1 : 0;
  if (present == 0) {
    ASB_ASSIGN_OR_RETURN(WebhookCerts made, GenerateWebhookCerts(hosts));
    ASB_RETURN_IF_ERROR(WriteCerts(dir, made));
    return made;
  }
  if (present != 3)
    return MakeError(Code::kInvalidArgument,
                     dir +
                         " has only some of ca.crt, tls.crt and tls.key; remove them all to "
                         "make a new CA, or restore the missing ones");
  WebhookCerts loaded;
  ASB_ASSIGN_OR_RETURN(loaded.ca_pem, ReadFile(files[0]));
  ASB_ASSIGN_OR_RETURN(loaded.cert_pem, ReadFile(files[1]));
  ASB_ASSIGN_OR_RETURN(loaded.key_pem, ReadFile(files[2]));
  if (Status ok = CheckWebhookCerts(loaded); !ok)
    return MakeError(Code::kInvalidArgument, dir + ": " + ok.error().message);
  return loaded;
}

}  // namespace asb::webhook
