# Writes OUTPUT, a C++ source defining contacts::kOpenApiYaml (the bytes of INPUT, NUL-terminated)
# and contacts::kOpenApiYamlSize. Run at build time by the custom command of CMakeLists.txt:
#   cmake -DINPUT=schemas/openapi.yaml -DOUTPUT=.../openapi_document.cpp -P schemas/embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}"
  "// Generated from schemas/openapi.yaml by schemas/embed.cmake; do not edit.\n"
  "#include <cstddef>\n\nnamespace contacts {\n\n"
  "extern const unsigned char kOpenApiYaml[];\nextern const size_t kOpenApiYamlSize;\n"
  "const unsigned char kOpenApiYaml[] = {\n${bytes}0x00};\n"
  "const size_t kOpenApiYamlSize = ${size};\n\n}  // namespace contacts\n")
