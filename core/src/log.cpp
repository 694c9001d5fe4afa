// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/core/log.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>

namespace mkeys {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::warn;

spdlog::sink_ptr SharedSink() {
  static spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto logger = spdlog::get(name);
  if (!logger) {
    logger = std::make_shared<spdlog::logger>(name, SharedSink());
    logger->set_pattern("mkeys[%n] %l: %v");
    logger->set_level(g_level);
    spdlog::register_logger(logger);
  }
  return logger;
}

void SetVerbosity(int verbosity) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (verbosity < 0) {
    g_level = spdlog::level::err;
  } else if (verbosity == 0) {
    g_level = spdlog::level::warn;
  } else if (verbosity == 1) {
    g_level = spdlog::level::info;
  } else if (verbosity == 2) {
    g_level = spdlog::level::debug;
  } else {
    g_level = spdlog::level::trace;
  }
  spdlog::set_level(g_level);  // applies to every registered logger
}

}  // namespace mkeys
