// The typed command codec: what decode_command keeps, what encode_command writes, and the
// reasons it gives. The accept/refuse rules themselves are in command_schema_test.cpp.
#include "core/command_codec.h"

#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <vector>

namespace contacts {
namespace {

const std::vector<std::string> kCommands = {
    R"({"type":"room_join","command_id":"rj-81","workspace_id":2,"occurred_at":1711500000,
        "participant":{"name":"Alice Martin","email":"alice@example.com"},
        "room":{"id":5,"name":"team-standup-1234","display_name":"Team Standup"},
        "metadata":{"device":"web","tags":[1,2,{"x":null}]}})",
    R"({"type":"room_join","command_id":"rj-82","workspace_id":2,"occurred_at":0,
        "participant":{"name":" \u00c9lodie "},"room":{"id":9007199254740991,"name":"r"}})",
    R"({"type":"booking","command_id":"bk-12","workspace_id":2,"occurred_at":1711000000,
        "participant":{"name":"Alice Martin","email":null},
        "booking_page":{"id":3,"title":"30-min Intro Call","slug":"intro-call"},"metadata":null})",
    R"({"type":"contact_delete","command_id":"del-1","workspace_id":2,"occurred_at":1711600000,
        "contact_id":1,"actor":{"user_id":7}})",
    R"({"type":"contact_delete","command_id":"del-2","workspace_id":2,"occurred_at":1,"contact_id":1})",
    R"({"type":"member_upsert","command_id":"m-1","workspace_id":2,"occurred_at":1710000000,
        "user_id":7,"role":"admin"})",
    R"({"type":"member_remove","command_id":"m-2","workspace_id":2,"occurred_at":1710000001,"user_id":7})",
    R"({"type":"room_delete","command_id":"r-9","workspace_id":2,"occurred_at":1711700000,"room_id":5})",
    R"({"type":"booking_page_delete","command_id":"b-3","workspace_id":2,"occurred_at":1711700000,
        "booking_page_id":3})",
    R"({"type":"api_key_create","command_id":"k-1","workspace_id":2,"occurred_at":5,"name":" CI ",
        "role":"member","key_hash":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "key_prefix":"lnx_AbCdEfGh","actor":{"api_key_id":4}})",
    R"({"type":"api_key_revoke","command_id":"k-2","workspace_id":2,"occurred_at":6,"key_id":11,
        "actor":null})",
    R"({"type":"webhook_update","command_id":"w-1","workspace_id":2,"occurred_at":7,"webhook_id":21,
        "is_active":false,"actor":{"user_id":7}})",
    R"({"type":"webhook_rotate_secret","command_id":"w-2","workspace_id":2,"occurred_at":8,
        "webhook_id":21,"secret":"whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
        "overlap_seconds":3600,"actor":{"api_key_id":4}})",
    R"({"type":"webhook_test","command_id":"w-3","workspace_id":2,"occurred_at":9,"webhook_id":21,
        "actor":{"user_id":7}})",
    R"({"type":"webhook_redeliver","command_id":"w-4","workspace_id":2,"occurred_at":10,
        "webhook_id":21,"message_id":"msg_1234","actor":{"user_id":7}})",
};

auto fields(const Command& c) {
  return std::tie(c.type, c.command_id, c.workspace_id, c.occurred_at, c.occurred_at_missing,
                  c.participant_name, c.participant_email, c.room_id, c.room_name,
                  c.room_display_name, c.booking_page_id, c.booking_page_title, c.booking_page_slug,
                  c.metadata, c.contact_id, c.actor.user_id, c.actor.api_key_id, c.user_id, c.role,
                  c.key_name, c.key_hash, c.key_prefix, c.key_id, c.webhook_id, c.webhook_secret,
                  c.webhook_active, c.webhook_overlap_seconds, c.webhook_message_id);
}

Command decoded(const std::string& text) {
  auto c = decode_command(text);
  INFO(text);
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  return *c;
}

TEST_CASE("decode, encode, decode gives back the same command for every type") {
  for (const auto& text : kCommands) {
    INFO(text);
    Command first = decoded(text);
    std::string canonical = encode_command(first);
    Command second = decoded(canonical);
    CHECK(fields(first) == fields(second));
    CHECK(encode_command(second) == canonical);  // the encoding is canonical
  }
}

TEST_CASE("decode keeps what the webhook operations say: pause, the new secret and its overlap") {
  Command pause = decoded(kCommands[11]);
  CHECK(pause.type == CommandType::kWebhookUpdate);
  CHECK(pause.webhook_id == 21);
  CHECK_FALSE(pause.webhook_active);
  Command rotate = decoded(kCommands[12]);
  CHECK(rotate.type == CommandType::kWebhookRotateSecret);
  CHECK(rotate.webhook_secret == "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=");
  CHECK(rotate.webhook_overlap_seconds == 3600);
  CHECK(rotate.actor.api_key_id == 4);
  CHECK(decoded(kCommands[13]).type == CommandType::kWebhookTest);
  Command redeliver = decoded(kCommands[14]);
  CHECK(redeliver.type == CommandType::kWebhookRedeliver);
  CHECK(redeliver.webhook_message_id == "msg_1234");
  auto bad = decode_command(R"({"type":"webhook_update","command_id":"w","workspace_id":2,
      "webhook_id":21,"is_active":"no"})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == R"("is_active" must be true or false)");
}

TEST_CASE("decode keeps the trimmed name, the compact metadata and absent values as nullopt") {
  Command join = decoded(kCommands[0]);
  CHECK(join.type == CommandType::kRoomJoin);
  CHECK(join.workspace_id == WorkspaceId(2));
  CHECK(join.participant_email == std::optional<std::string>("alice@example.com"));
  CHECK(join.room_display_name == std::optional<std::string>("Team Standup"));
  CHECK(join.metadata == std::optional<std::string>(R"({"device":"web","tags":[1,2,{"x":null}]})"));

  Command trimmed = decoded(kCommands[1]);
  CHECK(trimmed.participant_name == "\xC3\x89lodie");
  CHECK_FALSE(trimmed.participant_email.has_value());
  CHECK_FALSE(trimmed.room_display_name.has_value());
  CHECK_FALSE(trimmed.metadata.has_value());
  CHECK(trimmed.room_id == 9007199254740991);

  Command booking = decoded(kCommands[2]);
  CHECK_FALSE(booking.participant_email.has_value());
  CHECK_FALSE(booking.metadata.has_value());
  CHECK(booking.booking_page_slug == "intro-call");

  CHECK_FALSE(decoded(kCommands[4]).actor.known());
  Command key = decoded(kCommands[9]);
  CHECK(key.key_name == "CI");
  CHECK(key.role == Role::kMember);
  CHECK(key.actor.api_key_id == 4);
  CHECK(key.actor.user_id == 0);
}

TEST_CASE("a command without occurred_at is flagged for stamping, and a stamped one is not") {
  Command c = decoded(R"({"type":"room_delete","command_id":"r","workspace_id":2,"room_id":5})");
  CHECK(c.occurred_at_missing);
  CHECK(c.occurred_at == 0);
  c.occurred_at = 1711700000;  // what ingest does before appending
  std::string stamped = encode_command(c);
  CHECK(stamped.find(R"("occurred_at":1711700000)") != std::string::npos);
  Command again = decoded(stamped);
  CHECK_FALSE(again.occurred_at_missing);
  CHECK(again.occurred_at == 1711700000);

  Command zero = decoded(
      R"({"type":"room_delete","command_id":"r","workspace_id":2,"occurred_at":0,"room_id":5})");
  CHECK_FALSE(zero.occurred_at_missing);  // 0 is a time, not a missing one
}

TEST_CASE("encode writes null for absent optional values and the actor that was given") {
  Command booking = decoded(kCommands[2]);
  std::string text = encode_command(booking);
  CHECK(text.find(R"("email":null)") != std::string::npos);
  CHECK(text.find(R"("metadata":null)") != std::string::npos);
  CHECK(encode_command(decoded(kCommands[4])).find(R"("actor":null)") != std::string::npos);
  CHECK(encode_command(decoded(kCommands[3])).find(R"("actor":{"user_id":7})") !=
        std::string::npos);
}

// The reason must name the field a producer has to fix, with its path.
void check_reason(const std::string& text, const std::string& expected_part) {
  auto c = decode_command(text, UnknownFields::kRefuseTypos);
  INFO(text);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalid);
  INFO("reason: ", c.status().message());
  CHECK(c.status().message().find(expected_part) != std::string::npos);
}

TEST_CASE("decode failures name the field path") {
  const std::string head = R"({"type":"room_join","command_id":"c","workspace_id":2,)";
  const std::string room = R"("room":{"id":5,"name":"r"})";
  check_reason(head + R"("participant":{"email":"a@b"},)" + room + "}",
               R"(missing field "participant.name")");
  check_reason(head + R"("participant":{"name":"  "},)" + room + "}",
               R"("participant.name" must not be empty)");
  for (const char* hidden : {R"(\u200b\u200b)", R"(\u0000)", R"(A\u0000B)", R"(\u2060\ufeff)",
                             R"(\u0007\u009f)", R"(\u200b\u0007)"})
    check_reason(head + R"("participant":{"name":")" + hidden + "\"}," + room + "}",
                 R"("participant.name" must show a character and hold no NUL)");
  // What shows stays, with the rest of its characters: a tab, a zero-width joiner, a mark.
  for (const char* shown :
       {R"(Ann\tLee)", R"(\ud83d\udc69\u200d\ud83d\udcbb)", R"(e\u0301)", R"(\u200fSara)"})
    CHECK(decode_command(head + R"("participant":{"name":")" + shown + "\"}," + room + "}").ok());
  check_reason(head + R"("participant":{"name":5},)" + room + "}",
               R"("participant.name" must be a string)");
  check_reason(head + R"("participant":{"name":")" + std::string(201, 'n') + "\"}," + room + "}",
               R"("participant.name" is longer than 200 characters)");
  check_reason(head + R"("participant":{"name":"A","email":5},)" + room + "}",
               R"("participant.email")");
  check_reason(head + R"("participant":{"name":"A","emial":"1"},)" + room + "}",
               R"(unknown field "participant.emial" (did you mean "participant.email"?))");
  check_reason(head + R"("participant":{"name":"A"},"room":{"id":0,"name":"r"}})",
               R"("room.id" must be between 1 and 9007199254740991)");
  check_reason(head + R"("participant":{"name":"A"},"room":{"id":1.0,"name":"r"}})",
               R"("room.id" must be an integer)");
  check_reason(head + R"("participant":{"name":"A"},"room":{"id":1}})",
               R"(missing field "room.name")");
  check_reason(head + R"("participant":{"name":"A"},"room":[]})", R"("room" must be an object)");
  check_reason(head + R"("participant":{"name":"A"}})", R"(missing field "room")");
  check_reason(head + R"("participant":{"name":"A"},)" + room + R"(,"metdata":1})",
               R"(unknown field "metdata" (did you mean "metadata"?))");
  check_reason(head + R"("participant":{"name":"A"},)" + room + R"(,"metadata":")" +
                   std::string(16384, 'm') + "\"}",
               R"("metadata" is larger than 16384 bytes)");
  check_reason(R"({"type":"booking","command_id":"c","workspace_id":2,"participant":{"name":"A"},
                   "booking_page":{"id":3,"title":"","slug":"s"}})",
               R"("booking_page.title" must not be empty)");
  check_reason(R"({"type":"contact_delete","command_id":"c","workspace_id":2,"contact_id":1,
                   "actor":{"user_id":7,"UserId":"x"}})",
               R"(unknown field "actor.UserId" (did you mean "actor.user_id"?))");
  check_reason(
      R"({"type":"contact_delete","command_id":"c","workspace_id":2,"contact_id":1,"actor":{}})",
      R"("actor" must have exactly one of user_id or api_key_id)");
  check_reason(R"({"type":"contact_delete","command_id":"c","workspace_id":2,"contact_id":1,
                   "actor":{"api_key_id":-1}})",
               R"("actor.api_key_id" must be between 1)");
  check_reason(
      R"({"type":"member_upsert","command_id":"c","workspace_id":2,"user_id":1,"role":"root"})",
      R"("role" must be one of owner, admin, member)");
  check_reason(
      R"({"type":"member_remove","command_id":"c","workspace_id":9007199254740992,"user_id":1})",
      R"("workspace_id" must be between 1 and 9007199254740991)");
  check_reason(R"({"type":"member_remove","command_id":")" + std::string(129, 'c') +
                   R"(","workspace_id":2,"user_id":1})",
               R"("command_id" is longer than 128 characters)");
  check_reason(
      R"({"type":"member_remove","command_id":"c","workspace_id":2,"occurred_at":-1,"user_id":1})",
      R"("occurred_at" must be between 0 and)");
  check_reason(R"({"type":"member_remove","workspace_id":2,"user_id":1})",
               R"(missing field "command_id")");
  check_reason(
      R"({"type":"api_key_create","command_id":"c","workspace_id":2,"name":"k","role":"admin",
                   "key_hash":"ABC","key_prefix":"p"})",
      R"("key_hash" must be 64 lower-case hex digits)");
  check_reason(R"({"type":"teleport","command_id":"c","workspace_id":2})",
               R"(unknown command type "teleport")");
}

TEST_CASE("decode refuses text that is not one JSON object of valid UTF-8") {
  check_reason("{\"type\":\"room_join\",\"command_id\":\"\xC0\x80\"}", "invalid UTF-8");
  check_reason("{\"type\":", "malformed JSON");
  check_reason("[1,2]", "must be a JSON object");
  check_reason(std::string(65, '[') + std::string(65, ']'), "nested deeper than 64 levels");
  check_reason("", "malformed JSON");
}

}  // namespace
}  // namespace contacts
