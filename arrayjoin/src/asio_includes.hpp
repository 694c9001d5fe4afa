// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one place Boost.Asio is included. <utility> must come first: Boost 1.74's awaitable.hpp
// uses std::exchange without including it, which GCC 12 in C++20 rejects.
#include <utility>

// Boost 1.74 enables co_await on Clang only with libc++'s <experimental/coroutine>; Clang 14 with
// libstdc++ 12 has the standard <coroutine>, which Asio uses when told.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && __has_include(<coroutine>)
#include <coroutine>
#ifndef BOOST_ASIO_HAS_CO_AWAIT
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif
#endif

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
