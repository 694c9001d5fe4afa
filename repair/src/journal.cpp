// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/journal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "internal/journal_writer.hpp"
#include "mkeys/core/time.hpp"
#include "mkeys/keystore/machine_volume.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::repair {
namespace {

constexpr std::array<std::uint8_t, 8> kMagic = {'M', 'K', 'E', 'Y', 'S', 'J', 'N', 'L'};
constexpr std::size_t kFileHeaderSize = 16;  // magic, version, reserved
constexpr std::size_t kMaxRecord = 64u << 20;

void Put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  const std::uint8_t b[4] = {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
                             static_cast<std::uint8_t>(v >> 16),
                             static_cast<std::uint8_t>(v >> 24)};
  out.insert(out.end(), b, b + 4);
}
void Put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  Put32(out, static_cast<std::uint32_t>(v));
  Put32(out, static_cast<std::uint32_t>(v >> 32));
}
std::uint32_t Get32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t Get64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(Get32(p)) | static_cast<std::uint64_t>(Get32(p + 4)) << 32;
}

// Appends type | length | payload | crc, with the payload written by `fill`.
template <typename Fill>
void AppendRecord(std::vector<std::uint8_t>& out, internal::RecordType type, Fill fill) {
  const std::size_t start = out.size();
  Put32(out, static_cast<std::uint32_t>(type));
  Put32(out, 0);
  fill(out);
  const auto len = static_cast<std::uint32_t>(out.size() - start - 8);
  for (int i = 0; i < 4; ++i) out[start + 4 + i] = static_cast<std::uint8_t>(len >> (8 * i));
  Put32(out, Crc32(std::span<const std::uint8_t>(out.data() + start, out.size() - start)));
}

std::string NowUtc() {
  return time::UtcNowIso8601();
}

Error Corrupt(std::size_t offset, const std::string& what) {
  return Error(ErrorCode::kCorrupt, "corrupt journal: " + what).At(offset);
}

bool SafeRelative(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto part = path.substr(start, end - start);
    if (part == ".." || part == "." || part.empty()) return false;
    start = end + 1;
  }
  return path.find('\0') == std::string_view::npos;
}

}  // namespace

std::uint32_t Crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  // Slicing by 4: t[k][b] is the CRC of byte b followed by k zero bytes.
  static const auto t = [] {
    std::array<std::array<std::uint32_t, 256>, 4> tables{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      tables[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i) {
      for (std::size_t k = 1; k < 4; ++k) {
        tables[k][i] = (tables[k - 1][i] >> 8) ^ tables[0][tables[k - 1][i] & 0xFF];
      }
    }
    return tables;
  }();
  crc = ~crc;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 4) {
    crc ^= static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
    crc = t[3][crc & 0xFF] ^ t[2][(crc >> 8) & 0xFF] ^ t[1][(crc >> 16) & 0xFF] ^ t[0][crc >> 24];
    p += 4;
    n -= 4;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

namespace internal {

void AppendFileHeader(std::vector<std::uint8_t>& out) {
  out.insert(out.end(), kMagic.begin(), kMagic.end());
  Put32(out, kJournalVersion);
  Put32(out, 0);
}

void AppendHeaderRecord(std::vector<std::uint8_t>& out, const JournalHeader& header) {
  nlohmann::json doc = {{"root", header.root},
                        {"machine_guid", header.machine_guid},
                        {"root_identity", header.root_identity},
                        {"attribute", header.attribute},
                        {"ntfs", header.ntfs},
                        {"planned", header.planned},
                        {"created", header.created.empty() ? NowUtc() : header.created}};
  if (header.partition) {
    doc["partition"] = {{"index", header.partition->index},
                        {"offset", header.partition->offset},
                        {"length", header.partition->length}};
  }
  const std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  AppendRecord(out, RecordType::kHeader,
               [&](std::vector<std::uint8_t>& o) { o.insert(o.end(), text.begin(), text.end()); });
}

void AppendEntryRecord(std::vector<std::uint8_t>& out, std::string_view relative_path,
                       std::span<const std::uint8_t> before, std::span<const std::uint8_t> after) {
  AppendRecord(out, RecordType::kEntry, [&](std::vector<std::uint8_t>& o) {
    Put32(o, static_cast<std::uint32_t>(relative_path.size()));
    o.insert(o.end(), relative_path.begin(), relative_path.end());
    Put32(o, static_cast<std::uint32_t>(before.size()));
    o.insert(o.end(), before.begin(), before.end());
    Put32(o, static_cast<std::uint32_t>(after.size()));
    o.insert(o.end(), after.begin(), after.end());
  });
}

void AppendCountRecord(std::vector<std::uint8_t>& out, RecordType type, std::uint64_t count) {
  AppendRecord(out, type, [&](std::vector<std::uint8_t>& o) { Put64(o, count); });
}

Result<JournalWriter> JournalWriter::Create(const std::filesystem::path& file) {
  JournalWriter w;
  w.path_ = file;
  w.fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (w.fd_ < 0) {
    if (errno == EEXIST) {
      return Error(ErrorCode::kExists,
                   "journal exists already: restore it (mkeys restore) or choose another name")
          .On(file.string());
    }
    return Error(ErrorCode::kIo, fmt::format("cannot create journal: {}", std::strerror(errno)))
        .On(file.string());
  }
  if (const char* env = std::getenv("MKEYS_FAULT_JOURNAL_BYTES"); env != nullptr && *env != '\0') {
    w.fault_bytes_ = std::atoll(env);
  }
  return w;
}

JournalWriter::JournalWriter(JournalWriter&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      written_(other.written_),
      fault_bytes_(other.fault_bytes_),
      dir_synced_(other.dir_synced_) {}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> JournalWriter::Flush(bool force) {
  if (buffer_.empty() || (!force && buffer_.size() < (1u << 20))) return Ok();
  std::size_t len = buffer_.size();
  bool fault = false;
  if (fault_bytes_ >= 0 && written_ + len > static_cast<std::uint64_t>(fault_bytes_)) {
    len = static_cast<std::size_t>(static_cast<std::uint64_t>(fault_bytes_) - written_);
    fault = true;
  }
  std::size_t off = 0;
  while (off < len) {
    const ssize_t n = ::write(fd_, buffer_.data() + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorCode::kIo, fmt::format("cannot write journal: {}", std::strerror(errno)))
          .On(path_.string());
    }
    off += static_cast<std::size_t>(n);
  }
  written_ += len;
  if (fault) ::kill(::getpid(), SIGKILL);  // crash test: die with the journal torn
  buffer_.clear();
  return Ok();
}

Result<void> JournalWriter::Sync() {
  MKEYS_TRY(Flush(true));
  if (::fsync(fd_) != 0) {
    return Error(ErrorCode::kIo, fmt::format("cannot fsync journal: {}", std::strerror(errno)))
        .On(path_.string());
  }
  if (!dir_synced_) {
    const auto dir = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    dir_synced_ = true;
  }
  return Ok();
}

}  // namespace internal

std::vector<std::uint8_t> EncodeJournal(const Journal& journal) {
  std::vector<std::uint8_t> out;
  internal::AppendFileHeader(out);
  internal::AppendHeaderRecord(out, journal.header);
  for (const auto& e : journal.entries) {
    internal::AppendEntryRecord(out, e.relative_path, e.before, e.after);
  }
  if (journal.sealed) {
    internal::AppendCountRecord(out, internal::RecordType::kSealed, journal.entries.size());
  }
  if (journal.completed) {
    internal::AppendCountRecord(out, internal::RecordType::kCompleted, journal.entries.size());
  }
  return out;
}

Result<Journal> DecodeJournal(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kFileHeaderSize) {
    return Corrupt(0,
                   fmt::format("{} bytes: shorter than the 16-byte journal header", bytes.size()));
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
    return Corrupt(0, "not an mkeys journal (magic MKEYSJNL missing)");
  }
  if (const auto v = Get32(bytes.data() + 8); v != kJournalVersion) {
    return Corrupt(8, fmt::format("unsupported journal version {}", v));
  }
  Journal journal;
  bool have_header = false;
  std::size_t off = kFileHeaderSize;
  while (off < bytes.size()) {
    const std::size_t remaining = bytes.size() - off;
    if (remaining < 12) {
      journal.torn_tail =
          fmt::format("torn record at offset {}: only {} bytes of it were written", off, remaining);
      break;
    }
    const std::uint32_t type = Get32(bytes.data() + off);
    const std::uint32_t len = Get32(bytes.data() + off + 4);
    if (type < 1 || type > 4) return Corrupt(off, fmt::format("unknown record type {}", type));
    if (len > kMaxRecord)
      return Corrupt(off + 4, fmt::format("record length {} is too large", len));
    if (static_cast<std::size_t>(len) + 12 > remaining) {
      journal.torn_tail =
          fmt::format("torn record at offset {}: it declares {} bytes, only {} were written", off,
                      len + 12, remaining);
      break;
    }
    const std::uint8_t* payload = bytes.data() + off + 8;
    const std::uint32_t crc = Get32(payload + len);
    if (Crc32(std::span<const std::uint8_t>(bytes.data() + off, len + 8)) != crc) {
      return Corrupt(off, "record checksum mismatch");
    }
    const auto rtype = static_cast<internal::RecordType>(type);
    if (!have_header && rtype != internal::RecordType::kHeader) {
      return Corrupt(off, "the first record is not the journal header");
    }
    if (journal.completed) return Corrupt(off, "record after the completion marker");
    switch (rtype) {
      case internal::RecordType::kHeader: {
        if (have_header) return Corrupt(off, "a second header record");
        nlohmann::json doc;
        try {
          doc = nlohmann::json::parse(payload, payload + len);
          journal.header.root = doc.at("root").get<std::string>();
          journal.header.machine_guid = doc.at("machine_guid").get<std::string>();
          journal.header.root_identity = doc.value("root_identity", std::string());
          journal.header.attribute = doc.at("attribute").get<std::string>();
          journal.header.ntfs = doc.at("ntfs").get<bool>();
          journal.header.planned = doc.at("planned").get<std::uint64_t>();
          journal.header.created = doc.at("created").get<std::string>();
          // Journals from before the partition was recorded have none.
          if (const auto it = doc.find("partition"); it != doc.end()) {
            JournalPartition part;
            part.index = it->at("index").get<int>();
            part.offset = it->at("offset").get<std::uint64_t>();
            part.length = it->at("length").get<std::uint64_t>();
            if (part.index < 0) {
              return Corrupt(off + 8, fmt::format("header record: partition {}", part.index));
            }
            journal.header.partition = part;
          }
        } catch (const nlohmann::json::exception& e) {
          return Corrupt(off + 8, fmt::format("header record: {}", e.what()));
        }
        have_header = true;
        break;
      }
      case internal::RecordType::kEntry: {
        if (journal.sealed) return Corrupt(off, "entry after the sealed marker");
        JournalEntry entry;
        std::size_t p = 0;
        auto take = [&](std::vector<std::uint8_t>* into, std::string* text) -> bool {
          if (len - p < 4) return false;
          const std::uint32_t n = Get32(payload + p);
          p += 4;
          if (n > len - p) return false;
          if (into) into->assign(payload + p, payload + p + n);
          if (text) text->assign(reinterpret_cast<const char*>(payload + p), n);
          p += n;
          return true;
        };
        if (!take(nullptr, &entry.relative_path) || !take(&entry.before, nullptr) ||
            !take(&entry.after, nullptr) || p != len) {
          return Corrupt(off + 8, "entry record: lengths inconsistent with the record size");
        }
        if (!SafeRelative(entry.relative_path)) {
          return Corrupt(off + 8,
                         fmt::format("entry record: unsafe path '{}'", entry.relative_path));
        }
        journal.entries.push_back(std::move(entry));
        break;
      }
      case internal::RecordType::kSealed:
      case internal::RecordType::kCompleted: {
        if (len != 8) return Corrupt(off, "marker record must hold 8 bytes");
        const std::uint64_t count = Get64(payload);
        if (count != journal.entries.size()) {
          return Corrupt(off, fmt::format("marker counts {} entries; the journal holds {}", count,
                                          journal.entries.size()));
        }
        if (rtype == internal::RecordType::kSealed) {
          if (journal.sealed) return Corrupt(off, "a second sealed marker");
          journal.sealed = true;
        } else {
          if (!journal.sealed) return Corrupt(off, "completion marker before the sealed marker");
          journal.completed = true;
        }
        break;
      }
    }
    off += len + 12;
  }
  // Torn inside the header record: the writer died before any change could begin.
  if (!have_header && !journal.torn_tail) return Corrupt(off, "the journal has no header record");
  return journal;
}

Result<Journal> ReadJournal(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot open journal").On(file.string());
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  auto journal = DecodeJournal(bytes);
  if (!journal) return Error(journal.error()).On(file.string());
  return journal;
}

}  // namespace mkeys::repair
