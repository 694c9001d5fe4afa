// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A real 3-member etcd cluster on loopback ports for the array tests with several managers:
// data in a temporary folder, killed in the destructor. Ports are picked free by the kernel
// (never etcd's default 2379/2380, where Debian's package may run its own etcd).

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace mkeys::test {

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

inline bool HaveEtcd() {
  return Run({"sh", "-c", "command -v etcd && command -v etcdctl"}).exit_code == 0;
}

// True when etcd can be run; otherwise a failure in CI or as root (where nothing may skip), and
// elsewhere a warning that says why the test did nothing.
inline bool EtcdOrSkip() {
  if (HaveEtcd()) return true;
  if (InCi() || ::geteuid() == 0) {
    FAIL("etcd is not installed (scripts/install-deps.sh installs etcd-server)");
  }
  WARN("SKIPPED: etcd/etcdctl not installed (apt-get install etcd-server etcd-client)");
  return false;
}

// Starts `argv` (found on PATH) with stdout and stderr appended to `log`; its pid.
inline pid_t SpawnLogged(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  return SpawnToLog(argv, log, /*append=*/true);
}

// A loopback port nothing listens on now (the kernel's choice), not 2379/2380.
inline int FreeLoopbackPort() {
  for (;;) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(fd);
      std::abort();
    }
    const int port = ntohs(a.sin_port);
    close(fd);
    if (port != 2379 && port != 2380) return port;
  }
}

class EtcdCluster {
 public:
  static constexpr int kSize = 3;

  explicit EtcdCluster(const std::filesystem::path& dir) : dir_(dir) {
    for (int i = 0; i < kSize; ++i) {
      names_[i] = "e" + std::to_string(i);
      client_[i] = FreeLoopbackPort();
      peer_[i] = FreeLoopbackPort();
    }
    for (int i = 0; i < kSize; ++i) Start(i, "new", InitialCluster());
    REQUIRE(WaitHealthy(60));
  }
  ~EtcdCluster() {
    for (int i = 0; i < kSize; ++i) Kill(i);
  }

  // etcd://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
  std::string Url() const {
    std::string out = "etcd://";
    for (int i = 0; i < kSize; ++i) out += (i ? "," : "") + ClientAddress(i);
    return out;
  }
  std::string ClientAddress(int i) const { return "127.0.0.1:" + std::to_string(client_[i]); }
  std::string Endpoints() const {
    std::string out;
    for (int i = 0; i < kSize; ++i)
      out += (i ? "," : "") + std::string("http://") + ClientAddress(i);
    return out;
  }

  void Kill(int i) {
    if (pid_[i] <= 0) return;
    ::kill(pid_[i], SIGKILL);
    int status = 0;
    waitpid(pid_[i], &status, 0);
    pid_[i] = -1;
  }

  // The member that is the raft leader now (-1 if none answers).
  int Leader() {
    for (int i = 0; i < kSize; ++i) {
      if (pid_[i] <= 0) continue;
      auto r = Run({"etcdctl", "--endpoints", "http://" + ClientAddress(i), "endpoint", "status",
                    "-w", "json"});
      if (r.exit_code != 0) continue;
      auto doc = nlohmann::json::parse(r.out, nullptr, false);
      if (!doc.is_array() || doc.empty()) continue;
      const auto& st = doc[0]["Status"];
      if (st["leader"] == st["header"]["member_id"]) return i;
    }
    return -1;
  }

  // Wipes member i's data and brings it back as a new member of the running cluster
  // (member remove, member add, --initial-cluster-state existing).
  void WipeAndReAdd(int i) {
    Kill(i);
    std::filesystem::remove_all(DataDir(i));
    const std::string others = OtherEndpoints(i);
    auto list = Run({"etcdctl", "--endpoints", others, "member", "list", "-w", "json"});
    REQUIRE(list.exit_code == 0);
    auto doc = nlohmann::json::parse(list.out);
    std::string id_hex;
    for (const auto& m : doc["members"]) {
      if (m.value("name", "") == names_[i] ||
          (m.contains("peerURLs") && !m["peerURLs"].empty() && m["peerURLs"][0] == PeerUrl(i))) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%llx",
                      static_cast<unsigned long long>(m["ID"].get<std::uint64_t>()));
        id_hex = buf;
      }
    }
    REQUIRE_FALSE(id_hex.empty());
    // The killed member may have been the leader: allow the others an election first.
    RunResult removed;
    for (int t = 0; t < 20; ++t) {
      removed = Run({"etcdctl", "--endpoints", others, "member", "remove", id_hex});
      if (removed.exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    INFO(removed.out << removed.err);
    REQUIRE(removed.exit_code == 0);
    // etcd refuses a reconfiguration until the remaining members have been healthy for a
    // while after the removal ("not healthy for reconfigure"): retry for up to 20 s.
    RunResult added;
    for (int t = 0; t < 40; ++t) {
      added = Run({"etcdctl", "--endpoints", others, "member", "add", names_[i],
                   "--peer-urls=" + PeerUrl(i)});
      if (added.exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    INFO(added.out << added.err);
    REQUIRE(added.exit_code == 0);
    Start(i, "existing", InitialCluster());
    REQUIRE(WaitHealthy(60));
  }

  // Every member answers `endpoint health`.
  bool WaitHealthy(int seconds) {
    for (int t = 0; t < seconds * 4; ++t) {
      auto r = Run(
          {"etcdctl", "--endpoints", Endpoints(), "--command-timeout=2s", "endpoint", "health"});
      if (r.exit_code == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }

 private:
  std::string PeerUrl(int i) const { return "http://127.0.0.1:" + std::to_string(peer_[i]); }
  std::filesystem::path DataDir(int i) const { return dir_ / names_[i]; }
  std::string InitialCluster() const {
    std::string out;
    for (int i = 0; i < kSize; ++i) out += (i ? "," : "") + names_[i] + "=" + PeerUrl(i);
    return out;
  }
  std::string OtherEndpoints(int skip) const {
    std::string out;
    for (int i = 0; i < kSize; ++i) {
      if (i != skip) out += (out.empty() ? "" : ",") + std::string("http://") + ClientAddress(i);
    }
    return out;
  }
  void Start(int i, const std::string& state, const std::string& cluster) {
    const std::string client = "http://" + ClientAddress(i);
    std::vector<std::string> argv = {"etcd",
                                     "--name",
                                     names_[i],
                                     "--data-dir",
                                     DataDir(i).string(),
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     PeerUrl(i),
                                     "--initial-advertise-peer-urls",
                                     PeerUrl(i),
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-state",
                                     state,
                                     "--initial-cluster-token",
                                     "mkeys-test",
                                     "--heartbeat-interval",
                                     "50",
                                     "--election-timeout",
                                     "500"};
    pid_[i] = SpawnLogged(argv, dir_ / (names_[i] + ".log"));
  }

  std::filesystem::path dir_;
  std::array<std::string, kSize> names_;
  std::array<int, kSize> client_{};
  std::array<int, kSize> peer_{};
  std::array<pid_t, kSize> pid_{-1, -1, -1};
};

// ---- TLS and authentication (array_etcd_tls_test.cpp) ----

// A CA, a server certificate for 127.0.0.1 (IP SAN) and a client certificate (CN root), made
// with the openssl command-line tool in `dir`; `other_ca` is a CA that signed none of them.
struct EtcdTlsFiles {
  std::filesystem::path ca, server_cert, server_key, client_cert, client_key, other_ca;

  explicit EtcdTlsFiles(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    auto f = [&](const char* name) { return (dir / name).string(); };
    ca = f("ca.pem");
    other_ca = f("other-ca.pem");
    server_cert = f("server.pem");
    server_key = f("server.key");
    client_cert = f("client.pem");
    client_key = f("client.key");
    MakeCa(f("ca.key"), ca.string(), "mkeys test etcd CA");
    MakeCa(f("other-ca.key"), other_ca.string(), "mkeys test other CA");
    {
      std::FILE* ext = std::fopen(f("server.ext").c_str(), "w");
      std::fputs("subjectAltName=IP:127.0.0.1\n", ext);
      std::fclose(ext);
      ext = std::fopen(f("client.ext").c_str(), "w");
      std::fputs("extendedKeyUsage=clientAuth\n", ext);
      std::fclose(ext);
    }
    Issue(dir, "server", "127.0.0.1", f("server.ext"));
    Issue(dir, "client", "root", f("client.ext"));
  }

 private:
  static void Ok(const RunResult& r) {
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  static void MakeCa(const std::string& key, const std::string& cert, const std::string& cn) {
    Ok(Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn}));
  }
  void Issue(const std::filesystem::path& dir, const std::string& name, const std::string& cn,
             const std::string& ext) const {
    const std::string key = (dir / (name + ".key")).string();
    const std::string csr = (dir / (name + ".csr")).string();
    Ok(Run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=" + cn}));
    Ok(Run({"openssl", "x509", "-req", "-in", csr, "-CA", ca.string(), "-CAkey",
            (dir / "ca.key").string(), "-CAcreateserial", "-out", (dir / (name + ".pem")).string(),
            "-days", "2", "-extfile", ext}));
  }
};

// A 3-member etcd whose client URLs are https (peers stay http on loopback), optionally asking
// clients for a certificate, optionally with authentication enabled (user root).
class EtcdTlsCluster {
 public:
  static constexpr int kSize = 3;

  EtcdTlsCluster(const std::filesystem::path& dir, const EtcdTlsFiles& files, bool client_cert_auth)
      : dir_(dir), files_(files), client_cert_auth_(client_cert_auth) {
    for (int i = 0; i < kSize; ++i) {
      client_[i] = FreeLoopbackPort();
      peer_[i] = FreeLoopbackPort();
    }
    for (int i = 0; i < kSize; ++i) Start(i);
    REQUIRE(WaitHealthy(60));
  }
  ~EtcdTlsCluster() {
    for (pid_t pid : pid_) {
      if (pid <= 0) continue;
      ::kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }

  // "etcds://127.0.0.1:P1,..." (`scheme` etcd:// for the plain-HTTP refusal test).
  std::string Url(const std::string& scheme = "etcds://") const {
    std::string out = scheme;
    for (int i = 0; i < kSize; ++i)
      out += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(client_[i]);
    return out;
  }

  // etcdctl over TLS (the client certificate when etcd asks for one); `input` on stdin.
  RunResult Ctl(std::vector<std::string> args, const std::string& input = "") const {
    std::vector<std::string> argv = {"etcdctl", "--endpoints", HttpsEndpoints(), "--cacert",
                                     files_.ca.string()};
    if (client_cert_auth_) {
      argv.insert(argv.end(),
                  {"--cert", files_.client_cert.string(), "--key", files_.client_key.string()});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv, input);
  }

  // User root with `password` (given on stdin, never in argv), then `auth enable`.
  void EnableAuth(const std::string& password) {
    auto added = Ctl({"user", "add", "root", "--interactive=false"}, password + "\n");
    INFO(added.out << added.err);
    REQUIRE(added.exit_code == 0);
    auto enabled = Ctl({"auth", "enable"});
    INFO(enabled.out << enabled.err);
    REQUIRE(enabled.exit_code == 0);
  }

  bool WaitHealthy(int seconds) const {
    for (int t = 0; t < seconds * 4; ++t) {
      if (Ctl({"--command-timeout=2s", "endpoint", "health"}).exit_code == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }

 private:
  std::string HttpsEndpoints() const {
    std::string out;
    for (int i = 0; i < kSize; ++i) {
      out += (i ? ",https://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(client_[i]);
    }
    return out;
  }
  std::string PeerUrl(int i) const { return "http://127.0.0.1:" + std::to_string(peer_[i]); }
  void Start(int i) {
    const std::string name = "t" + std::to_string(i);
    const std::string client = "https://127.0.0.1:" + std::to_string(client_[i]);
    std::string cluster;
    for (int j = 0; j < kSize; ++j)
      cluster += (j ? ",t" : "t") + std::to_string(j) + "=" + PeerUrl(j);
    std::vector<std::string> argv = {"etcd",
                                     "--name",
                                     name,
                                     "--data-dir",
                                     (dir_ / name).string(),
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     PeerUrl(i),
                                     "--initial-advertise-peer-urls",
                                     PeerUrl(i),
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-state",
                                     "new",
                                     "--initial-cluster-token",
                                     "mkeys-tls-test",
                                     "--heartbeat-interval",
                                     "50",
                                     "--election-timeout",
                                     "500",
                                     "--cert-file",
                                     files_.server_cert.string(),
                                     "--key-file",
                                     files_.server_key.string()};
    // etcd 3.4 asks every client for a certificate once it has a trusted CA, so the CA is
    // given only when client certificates are the point.
    if (client_cert_auth_) {
      argv.insert(argv.end(), {"--trusted-ca-file", files_.ca.string(), "--client-cert-auth"});
    }
    std::filesystem::create_directories(dir_);
    pid_[i] = SpawnLogged(argv, dir_ / (name + ".log"));
  }

  std::filesystem::path dir_;
  const EtcdTlsFiles& files_;
  bool client_cert_auth_;
  std::array<int, kSize> client_{};
  std::array<int, kSize> peer_{};
  std::array<pid_t, kSize> pid_{-1, -1, -1};
};

}  // namespace mkeys::test
