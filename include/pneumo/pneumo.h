/* libpneumo — umbrella header. Include this one; it pulls in the rest.
 *
 *   #include <pneumo/pneumo.h>
 *
 * The library never prints, aborts or exits: every function returns a status
 * (or NULL) and pneumo_last_error() explains the last failure. */
#ifndef PNEUMO_PNEUMO_H
#define PNEUMO_PNEUMO_H

#include "pneumo/common.h"
#include "pneumo/tensor.h"
#include "pneumo/optim.h"
#include "pneumo/model.h"
#include "pneumo/model_info.h"
#include "pneumo/gradcam.h"
#include "pneumo/metrics.h"
#include "pneumo/train.h"
#include "pneumo/ensemble.h"
#include "pneumo/image.h"
#include "pneumo/image_write.h"
#include "pneumo/augment.h"
#include "pneumo/dataset.h"
#include "pneumo/report.h"
#include "pneumo/interop.h"

#endif /* PNEUMO_PNEUMO_H */
