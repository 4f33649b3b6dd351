// The built-in schema plus the shipped appliance example and a multi-index table, for config tests.
#pragma once

#include <gtest/gtest.h>

#include "config/schema.hpp"

namespace autoprov::testing {

inline const Schema& ApplianceSchema() {
  static const Schema schema = [] {
    Schema s = Schema::BuiltIn();
    auto r = s.MergeFile(std::string(AUTOPROV_SOURCE_DIR) + "/examples/schema/appliance.json");
    if (!r) ADD_FAILURE() << r.error().message;
    r = s.MergeFile(std::string(AUTOPROV_SOURCE_DIR) + "/tests/config/testdata/multi_index.json");
    if (!r) ADD_FAILURE() << r.error().message;
    return s;
  }();
  return schema;
}

inline std::string TestData(const std::string& name) {
  return std::string(AUTOPROV_SOURCE_DIR) + "/tests/config/testdata/" + name;
}

}  // namespace autoprov::testing
