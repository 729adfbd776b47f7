/* The optimizer's part of a model file; see optim_file.h. */
#include "optim/optim_file.h"

#include <inttypes.h>
#include <string.h>

#include "core/error.h"

void pn_optimizer_settings_json(pn_buf *b, const pneumo_optimizer *o)
{
    if (o->kind == PNEUMO_OPTIMIZER_ADAM) {
        pn_buf_printf(b, "{\"class\":\"Adam\",\"learning_rate\":");
        pn_buf_json_float(b, o->lr);
        pn_buf_printf(b, ",\"beta_1\":");
        pn_buf_json_float(b, o->adam.beta_1);
        pn_buf_printf(b, ",\"beta_2\":");
        pn_buf_json_float(b, o->adam.beta_2);
        pn_buf_printf(b, ",\"epsilon\":");
        pn_buf_json_float(b, o->adam.epsilon);
        if (o->adam.weight_decay > 0.0f) { /* absent: 0, as in files from before AdamW */
            pn_buf_printf(b, ",\"weight_decay\":");
            pn_buf_json_float(b, o->adam.weight_decay);
        }
    } else {
        pn_buf_printf(b, "{\"class\":\"SGD\",\"learning_rate\":");
        pn_buf_json_float(b, o->lr);
        pn_buf_printf(b, ",\"momentum\":");
        pn_buf_json_float(b, o->sgd.momentum);
        pn_buf_printf(b, ",\"nesterov\":%s", o->sgd.nesterov ? "true" : "false");
    }
    pn_buf_printf(b, ",\"iterations\":%" PRId64 "}", o->iterations);
}

pneumo_status pn_optimizer_from_settings(const pn_json *j, const char *label, pneumo_optimizer **out)
{
    const char *cls = pn_json_get_string(j, "class");
    double lr, a, b, c, wd = 0.0;
    int64_t iterations;
    int nesterov;
    pneumo_optimizer *opt = NULL;
    pneumo_status st;
    *out = NULL;
    if (!cls || !pn_json_get_number(j, "learning_rate", &lr) ||
        !pn_json_get_int64(j, "iterations", &iterations) || iterations < 0)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: optimizer: needs \"class\", \"learning_rate\" and \"iterations\"", label);
    if (strcmp(cls, "Adam") == 0 && pn_json_get_number(j, "beta_1", &a) &&
        pn_json_get_number(j, "beta_2", &b) && pn_json_get_number(j, "epsilon", &c)) {
        pneumo_adam_params p;
        pneumo_adam_default_params(&p);
        p.learning_rate = (float)lr;
        p.beta_1 = (float)a;
        p.beta_2 = (float)b;
        p.epsilon = (float)c;
        if (pn_json_get(j, "weight_decay") && !pn_json_get_number(j, "weight_decay", &wd))
            return pn_error(PNEUMO_ERR_FORMAT, "%s: optimizer: \"weight_decay\" is not a number", label);
        p.weight_decay = (float)wd;
        st = pneumo_optimizer_create_adam(&p, &opt);
    } else if (strcmp(cls, "SGD") == 0 && pn_json_get_number(j, "momentum", &a) &&
               pn_json_get_bool(j, "nesterov", &nesterov)) {
        pneumo_sgd_params p;
        pneumo_sgd_default_params(&p);
        p.learning_rate = (float)lr;
        p.momentum = (float)a;
        p.nesterov = nesterov;
        st = pneumo_optimizer_create_sgd(&p, &opt);
    } else {
        return pn_error(PNEUMO_ERR_FORMAT, "%s: optimizer: unknown class or missing settings", label);
    }
    if (st != PNEUMO_OK)
        return pn_error(st == PNEUMO_ERR_NOMEM ? st : PNEUMO_ERR_FORMAT, "%s: optimizer: %s", label,
                        pneumo_last_error());
    opt->iterations = iterations;
    *out = opt;
    return PNEUMO_OK;
}

int pn_optimizer_slot_count(const pneumo_optimizer *o) { return o->kind == PNEUMO_OPTIMIZER_ADAM ? 2 : 1; }

const char *pn_optimizer_slot_name(const pneumo_optimizer *o, int slot)
{
    if (o->kind == PNEUMO_OPTIMIZER_SGD)
        return "velocity";
    return slot == 0 ? "m" : "v";
}
