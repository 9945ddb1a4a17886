// hookrx/hookrx.hpp: the whole core API in one include (store backends and adapters have their own
// headers: hookrx/sqlite_store.hpp, hookrx/httplib.hpp, ...).
#pragma once

#include "hookrx/clock.hpp"
#include "hookrx/dispatch.hpp"
#include "hookrx/error.hpp"
#include "hookrx/events.hpp"
#include "hookrx/inbox.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/request.hpp"
#include "hookrx/response.hpp"
#include "hookrx/retry.hpp"
#include "hookrx/store.hpp"
#include "hookrx/verify.hpp"
