#include "framework/core/paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "framework/core/errors.h"

namespace oasis {
namespace fs = std::filesystem;

fs::path repo_root() {
  if (const char* env = std::getenv("OASIS_ROOT"); env && *env) return env;
  return OASIS_SOURCE_DIR;
}

std::vector<fs::path> data_roots(const std::string& configured) {
  if (!configured.empty()) return {configured};
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("OASIS_DATA_DIR"); env && *env) roots.emplace_back(env);
  roots.push_back(repo_root() / "data" / "cache");
  roots.push_back((repo_root() / ".." / "shared" / "data").lexically_normal());
  return roots;
}

fs::path find_dataset_dir(const std::string& configured, const std::string& folder, const std::string& dataset) {
  std::string looked;
  for (const auto& root : data_roots(configured)) {
    if (fs::is_directory(root / folder)) return root / folder;
    looked += "\n  " + (root / folder).string();
  }
  throw RuntimeError(fmt::format(
      "dataset '{}' not found; looked in:{}\nget it with `make data` (downloads the files in data/manifest into "
      "data/cache and checks their sha256), or point $OASIS_DATA_DIR or data.data_dir at a folder holding '{}/'",
      dataset, looked, folder));
}

fs::path resolve_config_path(const std::string& configured) {
  const fs::path path(configured);
  if (path.is_absolute() || fs::exists(path)) return path;
  return repo_root() / path;
}

fs::path cache_dir(const std::string& configured) {
  fs::path dir = configured;
  if (dir.empty()) {
    const char* env = std::getenv("OASIS_CACHE_DIR");
    dir = env && *env ? fs::path(env) : repo_root() / ".cache";
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw RuntimeError(fmt::format("cannot create cache directory '{}': {}", dir.string(), ec.message()));
  return dir;
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + fmt::format(".tmp.{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw RuntimeError(fmt::format("cannot write '{}'", tmp.string()));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw RuntimeError(fmt::format("write to '{}' failed", tmp.string()));
    }
    done += size_t(n);
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, path);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError(fmt::format("cannot read '{}'", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace oasis
