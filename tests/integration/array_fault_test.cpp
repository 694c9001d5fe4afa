// SPDX-License-Identifier: GPL-3.0-or-later
// Killing the member or the manager at each step of a join leaves both sides consistent, and a
// re-join then succeeds (resuming a delivery the manager recorded). MKEYS_FAULT=side:step makes the
// process _exit(86) at that step.
#include "array_support.hpp"

using namespace mkeys::test;

namespace {

bool Listed(const std::filesystem::path& manager, const std::string& name) {
  for (const auto& m : Members(manager)) {
    if (m["name"] == name) return true;
  }
  return false;
}

bool Pending(const std::filesystem::path& manager, const std::string& name) {
  for (const auto& m :
       JsonOf(Mkeys({"--json", "array", "members", manager.string(), "--pending"}))) {
    if (m["name"] == name) return true;
  }
  return false;
}

// Either the manager lists the member and the member holds keys its service can open, or
// neither side shows a member: then the member keeps its member key for a retry exactly when the
// manager holds a delivery to it that was not confirmed.
bool RequireConsistent(const std::filesystem::path& manager, const std::filesystem::path& member,
                       const std::string& name) {
  const bool listed = Listed(manager, name);
  const bool joined = std::filesystem::exists(member / "mkeys-array/member.json");
  CHECK(listed == joined);
  CHECK_FALSE(std::filesystem::exists(member / "mkeys-array/join-journal.json"));
  if (joined) {
    CHECK(Mkeys({"store", "open", member.string(), "mkeys-array-web-rsa-v1", "--as",
                 "NT AUTHORITY\\NETWORK SERVICE"})
              .exit_code == 0);
    CHECK(KeptKeys(member).empty());
  } else {
    CHECK(KeptKeys(member).size() == (Pending(manager, name) ? 1u : 0u));
    RequireNoTrace(member, true);
  }
  return joined;
}

void RejoinSucceeds(const std::filesystem::path& manager, const std::filesystem::path& member,
                    const std::string& address, const std::string& token, bool joined) {
  const auto uses_before = Tokens(manager)[0]["uses_left"].get<int>();
  const bool resumes = !joined && Pending(manager, "node1");
  if (joined) {
    auto leave = Mkeys({"array", "leave", member.string()});
    INFO(leave.out << leave.err);
    REQUIRE(leave.exit_code == 0);
  } else if (resumes) {
    // Keys were delivered but never confirmed: the name stays taken for any other key (another
    // machine is refused), and this member's retry with its kept key resumes the delivery.
    const auto other = member.parent_path() / "other";
    InitMachine(other);
    auto refused = JoinWith(other, address, token, "node1");
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 4);
    CHECK(refused.err.find("already has a member named node1") != std::string::npos);
    RequireNoTrace(other);
  }
  auto again = JoinWith(member, address, token, "node1");
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(RequireConsistent(manager, member, "node1"));
  CHECK(Tokens(manager)[0]["uses_left"] == uses_before - (resumes ? 0 : 1));
}

}  // namespace

TEST_CASE("killing the member at each step of a join leaves both sides consistent",
          "[integration][array][fault]") {
  const char* steps[] = {"before-hello",   "after-receive", "before-install",
                         "after-install",  "before-rename", "after-rename",
                         "before-confirm", "after-confirm", "after-state"};
  for (const char* step : steps) {
    DYNAMIC_SECTION("member:" << step) {
      TempDir work;
      const auto manager = work.path() / "manager";
      const auto member = work.path() / "member";
      InitMachine(manager);
      InitMachine(member);
      REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
      ServerProcess server(manager, work.path());
      const std::string token = IssueToken(manager, {"--uses", "5"});
      auto killed = JoinWith(member, server.Address(), token, "node1",
                             {std::string("MKEYS_FAULT=member:") + step});
      INFO(killed.out << killed.err);
      REQUIRE(killed.exit_code == 86);
      // The next array command on the member settles what the killed process left.
      auto status = Mkeys({"array", "status", member.string()});
      INFO(status.out << status.err << server.Log());
      REQUIRE(status.exit_code == 0);
      const bool joined = RequireConsistent(manager, member, "node1");
      if (std::string(step) == "after-state") CHECK(joined);
      if (std::string(step).rfind("before-", 0) == 0 ||
          std::string(step).find("-install") != std::string::npos) {
        CHECK_FALSE(joined);
      }
      RejoinSucceeds(manager, member, server.Address(), token, joined);
    }
  }
}

TEST_CASE("killing the manager at each step of a join leaves both sides consistent",
          "[integration][array][fault]") {
  const char* steps[] = {"before-offer", "after-offer", "after-send-before-commit", "before-record",
                         "after-record"};
  for (const char* step : steps) {
    DYNAMIC_SECTION("manager:" << step) {
      TempDir work;
      const auto manager = work.path() / "manager";
      const auto member = work.path() / "member";
      InitMachine(manager);
      InitMachine(member);
      REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
      const std::string token = IssueToken(manager, {"--uses", "5"});
      std::string address;
      {
        ServerProcess doomed(manager, work.path(), {std::string("MKEYS_FAULT=manager:") + step});
        address = doomed.Address();
        auto join = JoinWith(member, address, token, "node1");
        INFO(join.out << join.err << doomed.Log());
        CHECK(join.exit_code == 4);
        CHECK(doomed.WaitExit(10) == 86);
      }
      // The manager comes back on the same address; the member settles with it.
      ServerProcess server(manager, work.path(), {}, {}, address);
      auto status = Mkeys({"array", "status", member.string()});
      INFO(status.out << status.err << server.Log());
      REQUIRE(status.exit_code == 0);
      const bool joined = RequireConsistent(manager, member, "node1");
      CHECK(joined == (std::string(step) == "after-record"));
      RejoinSucceeds(manager, member, server.Address(), token, joined);
    }
  }
}
