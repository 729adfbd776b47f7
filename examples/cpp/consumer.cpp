// A C++17 program using libpneumo through the RAII wrapper in pneumo.hpp:
//   c++ -std=c++17 consumer.cpp $(pkg-config --cflags --libs libpneumo)
#include "pneumo.hpp"

#include <cstdio>

int main()
{
    try {
        auto model = pneumo::Model::article(128, 1);
        auto opt = pneumo::adam();
        auto x = pneumo::tensor({2, 128, 128, 1});
        auto y = pneumo::tensor({2});
        pneumo_tensor_data(y.get())[1] = 1.0f;
        auto r = model.train_step(opt.get(), x.get(), y.get());
        std::printf("ok: C++ consumer linked libpneumo %s: %lld parameters, loss %.4f\n", pneumo_version(),
                    static_cast<long long>(model.num_params()), r.loss);
        // errors arrive as exceptions with the library's message
        try {
            pneumo::Model::load("/nonexistent/model.safetensors");
            std::printf("FAIL: loading a missing file succeeded\n");
            return 1;
        } catch (const pneumo::Error &e) {
            if (e.status() != PNEUMO_ERR_IO) {
                std::printf("FAIL: unexpected status %d: %s\n", e.status(), e.what());
                return 1;
            }
        }
    } catch (const std::exception &e) {
        std::printf("FAIL: %s\n", e.what());
        return 1;
    }
    return 0;
}
