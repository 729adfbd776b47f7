// A small RAII wrapper over libpneumo's C API for C++17 callers: owning
// handles with unique_ptr deleters, and library errors as exceptions carrying
// the library's message. Header-only; link with `pkg-config --libs libpneumo`.
#ifndef PNEUMO_EXAMPLES_PNEUMO_HPP
#define PNEUMO_EXAMPLES_PNEUMO_HPP

#include <pneumo/pneumo.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pneumo {

class Error : public std::runtime_error {
  public:
    Error(pneumo_status status, const std::string &what) : std::runtime_error(what), status_(status) {}
    pneumo_status status() const noexcept { return status_; }

  private:
    pneumo_status status_;
};

inline void check(pneumo_status st)
{
    if (st != PNEUMO_OK)
        throw Error(st, pneumo_last_error());
}

struct ModelDeleter {
    void operator()(pneumo_model *m) const noexcept { pneumo_model_destroy(m); }
};
struct OptimizerDeleter {
    void operator()(pneumo_optimizer *o) const noexcept { pneumo_optimizer_destroy(o); }
};
struct TensorDeleter {
    void operator()(pneumo_tensor *t) const noexcept { pneumo_tensor_destroy(t); }
};

using OptimizerPtr = std::unique_ptr<pneumo_optimizer, OptimizerDeleter>;
using TensorPtr = std::unique_ptr<pneumo_tensor, TensorDeleter>;

inline OptimizerPtr adam(float learning_rate = 1e-3f)
{
    pneumo_adam_params p;
    pneumo_adam_default_params(&p);
    p.learning_rate = learning_rate;
    pneumo_optimizer *o = nullptr;
    check(pneumo_optimizer_create_adam(&p, &o));
    return OptimizerPtr(o);
}

inline TensorPtr tensor(std::vector<int64_t> shape)
{
    pneumo_tensor *t = nullptr;
    check(pneumo_tensor_create(static_cast<int>(shape.size()), shape.data(), &t));
    return TensorPtr(t);
}

class Model {
  public:
    static Model article(int32_t size = 500, uint64_t seed = 1)
    {
        pneumo_model *m = nullptr;
        check(pneumo_model_create_article(size, seed, &m));
        return Model(m);
    }
    static Model load(const std::string &path)
    {
        pneumo_model *m = nullptr;
        check(pneumo_model_load(path.c_str(), &m, nullptr));
        return Model(m);
    }

    std::string summary() const
    {
        size_t needed = 0;
        check(pneumo_model_summary_string(m_.get(), nullptr, 0, &needed));
        std::string text(needed + 1, '\0');
        check(pneumo_model_summary_string(m_.get(), text.data(), text.size(), nullptr));
        text.resize(needed);
        return text;
    }
    int64_t num_params() const noexcept { return pneumo_model_num_params(m_.get()); }
    pneumo_step_result train_step(pneumo_optimizer *opt, const pneumo_tensor *x, const pneumo_tensor *y)
    {
        pneumo_step_result r;
        check(pneumo_model_train_step(m_.get(), opt, x, y, nullptr, &r));
        return r;
    }
    float predict_file(const std::string &path)
    {
        float p = 0.0f;
        check(pneumo_model_predict_file(m_.get(), path.c_str(), &p));
        return p;
    }
    void save(const std::string &path, const pneumo_optimizer *opt = nullptr) const
    {
        check(pneumo_model_save(m_.get(), opt, path.c_str()));
    }
    pneumo_model *get() const noexcept { return m_.get(); }

  private:
    explicit Model(pneumo_model *m) : m_(m) {}
    std::unique_ptr<pneumo_model, ModelDeleter> m_;
};

} // namespace pneumo

#endif
