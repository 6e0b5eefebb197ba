#include "framework/core/file_digest.h"

#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "framework/core/errors.h"
#include "framework/core/paths.h"

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

namespace {
std::filesystem::path sidecar_of(const std::filesystem::path& file) { return file.string() + ".sha256"; }
}  // namespace

void write_digest_sidecar(const std::filesystem::path& file) {
  write_file_atomic(sidecar_of(file), fmt::format("{}  {}\n", digest_file(file).sha256, file.filename().string()));
}

std::optional<std::string> sidecar_mismatch(const std::filesystem::path& file) {
  const auto sidecar = sidecar_of(file);
  if (!std::filesystem::exists(sidecar)) return std::nullopt;
  const std::string text = read_file(sidecar);
  const std::string recorded = text.substr(0, text.find(' '));
  if (recorded.size() != 64 || recorded.find_first_not_of("0123456789abcdef") != std::string::npos)
    return fmt::format("'{}' holds no SHA-256 (expected 64 hex digits, then the file name)", sidecar.string());
  const std::string actual = digest_file(file).sha256;
  if (actual != recorded)
    return fmt::format("'{}' is damaged: its SHA-256 is {}, '{}' records {}", file.string(), actual, sidecar.string(),
                       recorded);
  return std::nullopt;
}

}  // namespace oasis
