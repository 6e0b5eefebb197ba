#include "framework/core/file_digest.h"

#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "framework/core/errors.h"

namespace oasis {

FileDigest digest_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw RuntimeError(fmt::format("cannot read '{}'", file.string()));
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw RuntimeError("OpenSSL could not start a SHA-256 digest");
  FileDigest out;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    const std::streamsize n = in.gcount();
    if (n > 0) EVP_DigestUpdate(ctx.get(), buffer.data(), size_t(n));
    out.bytes += n;
  }
  if (in.bad()) throw RuntimeError(fmt::format("read error in '{}'", file.string()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  out.sha256.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) out.sha256 += fmt::format("{:02x}", digest[i]);
  return out;
}

}  // namespace oasis
