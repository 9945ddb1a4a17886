// hookrx/hookrx.hpp: everything a webhook endpoint needs, in one include.
#pragma once

#include "hookrx/dispatch.hpp"
#include "hookrx/error.hpp"
#include "hookrx/events.hpp"
#include "hookrx/receiver.hpp"
#include "hookrx/request.hpp"
#include "hookrx/response.hpp"
#include "hookrx/verify.hpp"
