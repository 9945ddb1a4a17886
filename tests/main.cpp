// The doctest runner for hookrx_tests; every other file in tests/ holds one TEST_SUITE.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
