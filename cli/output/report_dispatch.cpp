// SPDX-License-Identifier: GPL-3.0-or-later
#include "output/report_formats.hpp"

namespace mkeys::cli {

bool IsComplianceFormat(std::string_view format) {
  return format == "xccdf" || format == "hdf" || format == "html";
}

std::string RenderComplianceReport(std::string_view format, const repair::AuditReport& report,
                                   const keystore::MachineRoot& root,
                                   const repair::Baseline& baseline, std::string start_time,
                                   std::string end_time) {
  std::optional<repair::Plan> plan;
  repair::RepairOptions options;
  options.baseline = baseline;
  if (auto built = repair::BuildPlan(root, options)) plan = std::move(*built);
  ReportContext ctx(report, &root, &baseline, plan ? &*plan : nullptr);
  ctx.start_time = std::move(start_time);
  ctx.end_time = std::move(end_time);
  if (format == "xccdf") return AuditXccdf(ctx);
  if (format == "hdf") {
    return AuditHdf(ctx).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return AuditHtml(ctx);
}

}  // namespace mkeys::cli
