/* The optimizer's part of a model file (docs/model-format.md): its settings as
 * the JSON of the "optimizer" metadata entry, and the names of its state
 * slots. Which parameter each state tensor belongs to is the model's business
 * (model/model_file.c). */
#ifndef PN_OPTIM_OPTIM_FILE_H
#define PN_OPTIM_OPTIM_FILE_H

#include "core/buf.h"
#include "format/json.h"
#include "optim/optimizer.h"

/* Append the settings and iteration count as one JSON object, e.g.
 * {"class":"Adam","learning_rate":0.001,...,"iterations":12}. */
void pn_optimizer_settings_json(pn_buf *b, const pneumo_optimizer *o);

/* A new, unbound optimizer from such an object. Errors are
 * PNEUMO_ERR_FORMAT (or NOMEM) with "<label>: optimizer: ..." messages. */
pneumo_status pn_optimizer_from_settings(const pn_json *j, const char *label, pneumo_optimizer **out);

/* State slots: Adam has "m" and "v", SGD "velocity"; the state tensor of slot
 * s for parameter P is named "optimizer/<slot name>/P". */
int pn_optimizer_slot_count(const pneumo_optimizer *o);
const char *pn_optimizer_slot_name(const pneumo_optimizer *o, int slot);

#endif
