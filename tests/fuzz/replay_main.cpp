// Stand-in for libFuzzer's main when the compiler is not clang (GCC CI): replays every file
// given, or every file in every directory given, through LLVMFuzzerTestOneInput once. A broken
// invariant aborts, so ctest fails; a corpus that went missing fails too.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, size_t size);

namespace {

int replay(const std::filesystem::path &file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 1;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size());
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    int files = 0;
    int errors = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        if (std::filesystem::is_directory(arg)) {
            std::vector<std::filesystem::path> sorted;
            for (const auto &entry : std::filesystem::directory_iterator(arg)) {
                if (entry.is_regular_file())
                    sorted.push_back(entry.path());
            }
            std::sort(sorted.begin(), sorted.end());
            for (const auto &file : sorted) {
                errors += replay(file);
                ++files;
            }
        } else {
            errors += replay(arg);
            ++files;
        }
    }
    std::printf("replayed %d inputs\n", files);
    return files == 0 || errors ? 1 : 0;
}
