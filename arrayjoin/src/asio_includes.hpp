#pragma once
// The one place Boost.Asio is included. <utility> must come first: Boost 1.74's awaitable.hpp
// uses std::exchange without including it, which GCC 12 in C++20 rejects (STYLE.md).
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
