// The public headers used from C++17 (extern "C" guards, no C-only constructs).
#include <pneumo/pneumo.h>

#include <cstdio>
#include <memory>

struct ModelDeleter {
    void operator()(pneumo_model *m) const { pneumo_model_destroy(m); }
};

int main()
{
    pneumo_model *raw = nullptr;
    if (pneumo_model_create_article(128, 1, &raw) != PNEUMO_OK) {
        std::printf("FAIL: %s\n", pneumo_last_error());
        return 1;
    }
    std::unique_ptr<pneumo_model, ModelDeleter> model(raw);
    if (pneumo_model_num_layers(model.get()) != 14) {
        std::printf("FAIL: %d layers\n", pneumo_model_num_layers(model.get()));
        return 1;
    }
    std::printf("ok: C++ consumer linked libpneumo %s\n", pneumo_version());
    return 0;
}
