// Key encoding: byte order of the encoded keys is the order the views are read in.
#include "views/keys.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace contacts::keys {
namespace {

const WorkspaceId kWs(2);

std::string u64(uint64_t v) {
  std::string s;
  put_u64(s, v);
  return s;
}

TEST_CASE("big-endian u64 and u32 sort bytewise in numeric order and round trip") {
  const std::vector<uint64_t> values = {
      0,          1,    255, 256, 65535, 65536, (1ULL << 32) - 1, 1ULL << 32, (1ULL << 53) - 1,
      1ULL << 63, ~0ULL};
  for (size_t i = 0; i < values.size(); ++i) {
    CHECK(get_u64(u64(values[i]), 0) == values[i]);
    CHECK(u64(values[i]).size() == 8);
    for (size_t j = i + 1; j < values.size(); ++j) CHECK(u64(values[i]) < u64(values[j]));
  }
  std::string a, b;
  put_u32(a, 0x00FFFFFF);
  put_u32(b, 0x01000000);
  CHECK(a < b);
  CHECK(get_u32(b, 0) == 0x01000000u);
  CHECK(get_u64("xx" + u64(42), 2) == 42);
}

TEST_CASE("inverted values sort in descending numeric order") {
  CHECK(u64(inverted(10)) < u64(inverted(9)));
  CHECK(u64(inverted((int64_t{1} << 53) - 1)) < u64(inverted(0)));
}

TEST_CASE("list keys sort by last_seen_at descending, then contact id descending") {
  struct Row {
    int64_t last_seen, id;
  };
  std::vector<Row> rows = {{100, 1}, {300, 2}, {200, 3}, {300, 4}, {0, 5}, {100, 6}};
  std::vector<std::string> encoded;
  for (const auto& r : rows) encoded.push_back(list_key(kWs, r.last_seen, r.id));
  std::sort(encoded.begin(), encoded.end());
  std::vector<std::string> expected = {list_key(kWs, 300, 4), list_key(kWs, 300, 2),
                                       list_key(kWs, 200, 3), list_key(kWs, 100, 6),
                                       list_key(kWs, 100, 1), list_key(kWs, 0, 5)};
  CHECK(encoded == expected);
  for (const auto& key : encoded) CHECK(key.rfind(list_prefix(kWs), 0) == 0);
}

TEST_CASE("timeline keys sort by created_at descending, then event id descending, per contact") {
  std::vector<std::string> encoded = {timeline_key(kWs, 7, 10, 1), timeline_key(kWs, 7, 30, 2),
                                      timeline_key(kWs, 7, 30, 9), timeline_key(kWs, 7, 20, 5)};
  std::sort(encoded.begin(), encoded.end());
  std::vector<std::string> expected = {timeline_key(kWs, 7, 30, 9), timeline_key(kWs, 7, 30, 2),
                                       timeline_key(kWs, 7, 20, 5), timeline_key(kWs, 7, 10, 1)};
  CHECK(encoded == expected);
  // Another contact's events never fall under this contact's prefix.
  const std::string prefix = timeline_prefix(kWs, 7);
  CHECK(timeline_key(kWs, 8, 0, 0).rfind(prefix, 0) != 0);
  CHECK(timeline_key(kWs, 7, 0, 0).rfind(prefix, 0) == 0);
  CHECK(timeline_key(kWs, 7, 0, 0) < prefix_end(prefix));
  CHECK(timeline_key(kWs, 8, 0, 0) >= prefix_end(prefix));
}

TEST_CASE("keys of one workspace never fall under another workspace's prefix") {
  CHECK(list_key(WorkspaceId(3), 100, 1).rfind(list_prefix(WorkspaceId(2)), 0) != 0);
  CHECK(list_key(WorkspaceId(2), 0, 0) < prefix_end(list_prefix(WorkspaceId(2))));
  CHECK(contact_key(WorkspaceId(2), 5) != contact_key(WorkspaceId(5), 2));
  CHECK(dedup_key(WorkspaceId(2), "a") != dedup_key(WorkspaceId(3), "a"));
}

TEST_CASE("prefix_end is the smallest key above every key with the prefix") {
  CHECK(prefix_end("ab") == "ac");
  CHECK(prefix_end(std::string("a\xFF", 2)) == "b");
  CHECK(prefix_end(std::string("a\xFF\xFF", 3)) == "b");
  CHECK(prefix_end(std::string("\x01\xFE", 2)) == std::string("\x01\xFF", 2));
  const std::string prefix = list_prefix(kWs);
  CHECK(prefix + std::string(16, '\xFF') < prefix_end(prefix));
  CHECK(prefix < prefix_end(prefix));
  // A prefix made only of 0xFF bytes has no successor of its length: the end is past them all.
  std::string all_ff(3, '\xFF');
  CHECK(all_ff + std::string(8, '\xFF') < prefix_end(all_ff));
}

TEST_CASE("deletion markers of rooms and booking pages are distinct per tag, workspace and id") {
  CHECK(deleted_resource_key(kRoomDeleted, kWs, 5) != deleted_resource_key(kPageDeleted, kWs, 5));
  CHECK(deleted_resource_key(kRoomDeleted, kWs, 5) !=
        deleted_resource_key(kRoomDeleted, WorkspaceId(3), 5));
  CHECK(deleted_resource_key(kRoomDeleted, kWs, 5) < deleted_resource_key(kRoomDeleted, kWs, 6));
}

TEST_CASE("every key starts with its one-byte tag") {
  CHECK(offset_key(Partition(3))[0] == kOffset);
  CHECK(offset_key(Partition(3)).size() == 5);
  CHECK(contact_key(kWs, 1)[0] == kContact);
  CHECK(email_key(kWs, "a@b")[0] == kEmail);
  CHECK(member_key(kWs, 1)[0] == kMember);
  CHECK(api_key_hash_key("ab")[0] == kApiKeyHash);
  CHECK(keys_by_creator_key(kWs, kCreatorUser, 7)[0] == kKeyCreator);
  // A user and a key with the same id are different creators.
  CHECK(keys_by_creator_key(kWs, kCreatorUser, 7) != keys_by_creator_key(kWs, kCreatorApiKey, 7));
  CHECK(audit_key(kWs, 1)[0] == kAudit);
  CHECK(audit_key(kWs, 2) < audit_key(kWs, 1));  // newest audit entry first
  CHECK(contact_count_key(kWs)[0] == kContactCount);
  CHECK(audit_count_key(kWs)[0] == kAuditCount);
}

}  // namespace
}  // namespace contacts::keys

namespace contacts {

TEST_CASE("position_from_id inverts id_from_position") {
  for (int32_t partitions : {1, 3, 8, 64})
    for (int32_t p = 0; p < partitions; ++p)
      for (int64_t offset : {int64_t{0}, int64_t{1}, int64_t{12345}, int64_t{1} << 40}) {
        int64_t id = id_from_position(Partition(p), Offset(offset), partitions);
        auto [partition, at] = position_from_id(id, partitions);
        CHECK(partition.value == p);
        CHECK(at.value == offset);
      }
}

}  // namespace contacts
