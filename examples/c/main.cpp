// Classify the held-back digits from C++: the generated header is valid C++11 too.
//
//   export-model ../digits.h5 -o build/digits.h --name digits
//   c++ -std=c++11 -O2 -Ibuild main.cpp -o digits_cpp
//   ./digits_cpp ../digits_holdout.csv
#include <algorithm>
#include <array>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "digits.h"

int main(int argc, char **argv)
{
    const std::string path = argc > 1 ? argv[1] : "../digits_holdout.csv";
    float max_err = 0.0f;
    const int failures = digits_selftest(&max_err);
    std::cout << "digits_selftest: " << (failures == 0 ? "ok" : "FAILED") << " (max |C++ - Keras| " << max_err
              << ")\n";

    std::ifstream csv(path);
    if (!csv) {
        std::cerr << "error: cannot open " << path << "\n";
        return 2;
    }
    std::string line;
    std::getline(csv, line);  // header line
    int total = 0, correct = 0;
    while (std::getline(csv, line)) {
        std::istringstream fields(line);
        std::string field;
        std::getline(fields, field, ',');
        const int label = std::stoi(field);
        std::array<float, digits_INPUT_SIZE> pixels{};  // (8, 8), row-major
        for (float &pixel : pixels) {
            std::getline(fields, field, ',');
            pixel = std::stof(field);
        }
        std::array<float, digits_OUTPUT_SIZE> probs{};  // (10,)
        digits_predict(pixels.data(), probs.data());
        const auto guess = std::max_element(probs.begin(), probs.end()) - probs.begin();
        correct += guess == label;
        total++;
    }
    std::cout << "C++ accuracy " << correct << "/" << total << "\n";
    return failures != 0;
}
