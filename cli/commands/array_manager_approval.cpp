// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array manager add ROOT --registry ... --array A`, `add ROOT --complete`,
// `manager approve|deny`: a manager on another machine, added by approval
// (docs/arrayjoin.md, "More than one manager").
#include <fmt/format.h>

#include "commands/array_cli.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/arrayjoin/manager_approval.hpp"

namespace mkeys::cli::array_cmd {
namespace {

std::string ApproveCommand(const std::string& id, const std::string& fingerprint) {
  return fmt::format("mkeys array manager approve MANAGER_ROOT {} --fingerprint {}", id,
                     fingerprint);
}

std::string CompleteCommand(const std::string& root) {
  return fmt::format("mkeys array manager add {} --complete", root);
}

}  // namespace

int ManagerRequest(Context& ctx, const ArrayArgs& a) {
  if (a.registry.empty()) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "--array needs --registry etcd://HOST:PORT[,...] or etcds://... (the "
                           "etcd cluster that holds the array)"));
  }
  bool tls = false;
  auto etcd = aj::ParseEtcdUrl(a.registry, &tls);
  if (!etcd) return Fail(ctx, etcd.error());
  auto requested =
      aj::RequestManager(a.root, *etcd, EtcdAccessFrom(a, tls), a.array_ref, a.array_fingerprint);
  if (!requested) return Fail(ctx, requested.error());
  const auto& r = *requested;
  const std::string approve = ApproveCommand(r.request.id, r.request.fingerprint);
  const std::string complete = CompleteCommand(a.root);
  if (ctx.out.json()) {
    ctx.out.Json({{"array", r.info.name},
                  {"array_id", r.info.array_id},
                  {"request_id", r.request.id},
                  {"manager_id", r.request.id},
                  {"host", r.request.host},
                  {"requested_at", r.request.requested_at},
                  {"fingerprint", r.request.fingerprint},
                  {"array_fingerprint", aj::FormatFingerprint(r.info.pin)},
                  {"array_fingerprint_checked", r.pin_checked},
                  {"containers", r.containers},
                  {"approve_command", approve},
                  {"complete_command", complete}});
    return kExitOk;
  }
  ctx.out.Line(fmt::format("{} asks to manage array {} ({}); request id {}", a.root, r.info.name,
                           r.info.array_id, r.request.id));
  ctx.out.Line(fmt::format("  request fingerprint      {}", r.request.fingerprint));
  ctx.out.Line(fmt::format("  array key fingerprint    {} ({})", aj::FormatFingerprint(r.info.pin),
                           r.pin_checked ? "the one given with --array-fingerprint"
                                         : "as etcd describes the array; not checked: compare it "
                                           "with 'mkeys array status' on a manager you trust, or "
                                           "ask with --array-fingerprint FP"));
  ctx.out.Line(fmt::format("  container                {}", r.containers.front()));
  ctx.out.Line("Tell an operator of an existing manager the request fingerprint (out of band, not");
  ctx.out.Line("through etcd); after comparing it, they run:");
  ctx.out.Line("  " + approve);
  ctx.out.Line("Then here:");
  ctx.out.Line("  " + complete);
  return kExitOk;
}

int ManagerComplete(Context& ctx, const ArrayArgs& a) {
  auto completed = aj::CompleteManager(a.root);
  if (!completed) return Fail(ctx, completed.error());
  if (completed->waiting) {
    const auto& q = completed->requested.request;
    const std::string approve = ApproveCommand(q.id, q.fingerprint);
    if (ctx.out.json()) {
      ctx.out.Json({{"waiting", true},
                    {"array", completed->requested.info.name},
                    {"array_id", completed->requested.info.array_id},
                    {"request_id", q.id},
                    {"fingerprint", q.fingerprint},
                    {"approve_command", approve}});
    }
    ctx.out.Note(
        fmt::format("mkeys: waiting for approval: run '{}' on an existing manager, "
                    "then this command again",
                    approve));
    return kExitWaiting;
  }
  const auto& added = completed->added;
  if (ctx.out.json()) {
    ctx.out.Json({{"array", added.info.name},
                  {"array_id", added.info.array_id},
                  {"manager_id", added.manager_id},
                  {"fingerprint", aj::FormatFingerprint(added.info.pin)},
                  {"containers", added.containers},
                  {"finished_interrupted", completed->finished_interrupted}});
    return kExitOk;
  }
  if (completed->finished_interrupted) {
    ctx.out.Line(
        "An earlier --complete had registered this manager in etcd and stopped before "
        "finishing; finished it now.");
  }
  std::string containers;
  for (const auto& c : added.containers) containers += (containers.empty() ? "" : ", ") + c;
  ctx.out.Line(fmt::format("{} is now a manager of array {} ({}), manager id {}", a.root,
                           added.info.name, added.info.array_id, added.manager_id));
  ctx.out.Line(fmt::format("  manager key fingerprint  {} (the same for every manager)",
                           aj::FormatFingerprint(added.info.pin)));
  ctx.out.Line(fmt::format("  containers               {}", containers));
  ctx.out.Line(fmt::format(
      "Next: 'mkeys array serve {}'; members learn its endpoint on their next sync", a.root));
  return kExitOk;
}

int ManagerApprove(Context& ctx, const ArrayArgs& a) {
  auto approved = aj::ApproveManager(a.root, a.request_id, a.fingerprint);
  if (!approved) return Fail(ctx, approved.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"approved", approved->id},
                  {"host", approved->host},
                  {"fingerprint", approved->fingerprint}});
    return kExitOk;
  }
  ctx.out.Line(fmt::format("Approved request {} from host {} ({})", approved->id, approved->host,
                           approved->fingerprint));
  ctx.out.Line("The registry key is in etcd wrapped to that request's key. On that machine, run:");
  ctx.out.Line("  " + CompleteCommand("ROOT"));
  return kExitOk;
}

int ManagerDeny(Context& ctx, const ArrayArgs& a) {
  auto denied = aj::DenyManager(a.root, a.request_id);
  if (!denied) return Fail(ctx, denied.error());
  if (ctx.out.json()) {
    ctx.out.Json(
        {{"denied", denied->id}, {"host", denied->host}, {"fingerprint", denied->fingerprint}});
    return kExitOk;
  }
  ctx.out.Line(fmt::format("Denied request {} from host {}", denied->id, denied->host));
  return kExitOk;
}

nlohmann::json ManagerRequestsJson(const ArrayArgs& a) {
  nlohmann::json list = nlohmann::json::array();
  auto requests = aj::ManagerRequests(a.root);
  if (!requests) return list;
  for (const auto& r : *requests) {
    list.push_back({{"id", r.id},
                    {"self", false},
                    {"host", r.host},
                    {"added_at", r.requested_at},
                    {"requested_at", r.requested_at},
                    {"endpoints", nlohmann::json::array()},
                    {"serving_since", 0},
                    {"pid", 0},
                    {"pending", true},
                    {"fingerprint", r.fingerprint}});
  }
  return list;
}

void PrintManagerRequests(Context& ctx, const ArrayArgs& a) {
  auto requests = aj::ManagerRequests(a.root);
  if (!requests) {
    if (requests.error().code() != ErrorCode::kNotFound) {
      ctx.out.Line(fmt::format("Pending requests: unknown: {}", requests.error().ToString()));
    }
    return;
  }
  if (requests->empty()) return;
  ctx.out.Line("");
  ctx.out.Line(
      "Pending requests to become a manager ('mkeys array manager approve ROOT ID "
      "--fingerprint FP' once the fingerprint is checked with the requesting machine):");
  ctx.out.Line(fmt::format("{:<18} {:<20} {:<24} {}", "ID", "HOST", "REQUESTED", "FINGERPRINT"));
  for (const auto& r : *requests) {
    ctx.out.Line(fmt::format("{:<18} {:<20} {:<24} {}", r.id, r.host,
                             aj::FormatTime(r.requested_at), r.fingerprint));
  }
}

}  // namespace mkeys::cli::array_cmd
