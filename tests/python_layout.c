/* python_layout: print the size and field offsets of every public struct, and the
 * values of the public enums, as the C compiler sees them. python/tests/test_layout.py
 * compares this output with the ctypes mirrors in python/pneumo/_structs.py, so a
 * header change that breaks the Python binding fails the 'python' test suite.
 *
 * Output, one item per line:
 *   struct NAME SIZE ALIGN
 *   field NAME.FIELD OFFSET SIZE
 *   enum NAME VALUE */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>

#include <pneumo/pneumo.h>

#define STRUCT(T) printf("struct %s %zu %zu\n", #T, sizeof(T), (size_t)alignof(T))
#define FIELD(T, F) printf("field %s.%s %zu %zu\n", #T, #F, offsetof(T, F), sizeof(((T *)0)->F))
#define ENUM(E) printf("enum %s %lld\n", #E, (long long)(E))

int main(void)
{
    STRUCT(pneumo_conv2d_params);
    FIELD(pneumo_conv2d_params, size);
    FIELD(pneumo_conv2d_params, filters);
    FIELD(pneumo_conv2d_params, kernel_h);
    FIELD(pneumo_conv2d_params, kernel_w);
    FIELD(pneumo_conv2d_params, stride_h);
    FIELD(pneumo_conv2d_params, stride_w);
    FIELD(pneumo_conv2d_params, padding);
    FIELD(pneumo_conv2d_params, activation);
    FIELD(pneumo_conv2d_params, use_bias);
    FIELD(pneumo_conv2d_params, reserved);

    STRUCT(pneumo_maxpool2d_params);
    FIELD(pneumo_maxpool2d_params, size);
    FIELD(pneumo_maxpool2d_params, pool_h);
    FIELD(pneumo_maxpool2d_params, pool_w);
    FIELD(pneumo_maxpool2d_params, stride_h);
    FIELD(pneumo_maxpool2d_params, stride_w);
    FIELD(pneumo_maxpool2d_params, padding);
    FIELD(pneumo_maxpool2d_params, reserved);

    STRUCT(pneumo_step_result);
    FIELD(pneumo_step_result, loss);
    FIELD(pneumo_step_result, accuracy);
    FIELD(pneumo_step_result, batch_size);
    FIELD(pneumo_step_result, reserved);

    STRUCT(pneumo_adam_params);
    FIELD(pneumo_adam_params, size);
    FIELD(pneumo_adam_params, learning_rate);
    FIELD(pneumo_adam_params, beta_1);
    FIELD(pneumo_adam_params, beta_2);
    FIELD(pneumo_adam_params, epsilon);
    FIELD(pneumo_adam_params, reserved);

    STRUCT(pneumo_sgd_params);
    FIELD(pneumo_sgd_params, size);
    FIELD(pneumo_sgd_params, learning_rate);
    FIELD(pneumo_sgd_params, momentum);
    FIELD(pneumo_sgd_params, nesterov);
    FIELD(pneumo_sgd_params, reserved);

    STRUCT(pneumo_decode_limits);
    FIELD(pneumo_decode_limits, size);
    FIELD(pneumo_decode_limits, max_side);
    FIELD(pneumo_decode_limits, max_pixels);
    FIELD(pneumo_decode_limits, max_file_bytes);
    FIELD(pneumo_decode_limits, max_scans);
    FIELD(pneumo_decode_limits, deadline_ms);
    FIELD(pneumo_decode_limits, reserved);

    STRUCT(pneumo_augment_options);
    FIELD(pneumo_augment_options, size);
    FIELD(pneumo_augment_options, rotation_range);
    FIELD(pneumo_augment_options, width_shift_range);
    FIELD(pneumo_augment_options, height_shift_range);
    FIELD(pneumo_augment_options, shear_range);
    FIELD(pneumo_augment_options, zoom_lo);
    FIELD(pneumo_augment_options, zoom_hi);
    FIELD(pneumo_augment_options, horizontal_flip);
    FIELD(pneumo_augment_options, vertical_flip);
    FIELD(pneumo_augment_options, brightness_lo);
    FIELD(pneumo_augment_options, brightness_hi);
    FIELD(pneumo_augment_options, brightness_stretch);
    FIELD(pneumo_augment_options, fill_mode);
    FIELD(pneumo_augment_options, cval);
    FIELD(pneumo_augment_options, rescale);
    FIELD(pneumo_augment_options, reserved);

    STRUCT(pneumo_augment_params);
    FIELD(pneumo_augment_params, size);
    FIELD(pneumo_augment_params, theta_deg);
    FIELD(pneumo_augment_params, tx);
    FIELD(pneumo_augment_params, ty);
    FIELD(pneumo_augment_params, shear_deg);
    FIELD(pneumo_augment_params, zx);
    FIELD(pneumo_augment_params, zy);
    FIELD(pneumo_augment_params, flip_h);
    FIELD(pneumo_augment_params, flip_v);
    FIELD(pneumo_augment_params, brightness);
    FIELD(pneumo_augment_params, reserved);

    STRUCT(pneumo_dataset_options);
    FIELD(pneumo_dataset_options, size);
    FIELD(pneumo_dataset_options, width);
    FIELD(pneumo_dataset_options, height);
    FIELD(pneumo_dataset_options, resample);
    FIELD(pneumo_dataset_options, shuffle);
    FIELD(pneumo_dataset_options, seed);
    FIELD(pneumo_dataset_options, augment);
    FIELD(pneumo_dataset_options, augment_options);
    FIELD(pneumo_dataset_options, strict);
    FIELD(pneumo_dataset_options, threads);
    FIELD(pneumo_dataset_options, cache_bytes);
    FIELD(pneumo_dataset_options, prefetch_batches);
    FIELD(pneumo_dataset_options, limits);
    FIELD(pneumo_dataset_options, reserved);

    STRUCT(pneumo_confusion);
    FIELD(pneumo_confusion, m);

    STRUCT(pneumo_early_stopping_params);
    FIELD(pneumo_early_stopping_params, size);
    FIELD(pneumo_early_stopping_params, enabled);
    FIELD(pneumo_early_stopping_params, monitor);
    FIELD(pneumo_early_stopping_params, mode);
    FIELD(pneumo_early_stopping_params, patience);
    FIELD(pneumo_early_stopping_params, min_delta);
    FIELD(pneumo_early_stopping_params, restore_best_weights);
    FIELD(pneumo_early_stopping_params, reserved);

    STRUCT(pneumo_reduce_lr_params);
    FIELD(pneumo_reduce_lr_params, size);
    FIELD(pneumo_reduce_lr_params, enabled);
    FIELD(pneumo_reduce_lr_params, monitor);
    FIELD(pneumo_reduce_lr_params, mode);
    FIELD(pneumo_reduce_lr_params, patience);
    FIELD(pneumo_reduce_lr_params, factor);
    FIELD(pneumo_reduce_lr_params, min_delta);
    FIELD(pneumo_reduce_lr_params, cooldown);
    FIELD(pneumo_reduce_lr_params, min_lr);
    FIELD(pneumo_reduce_lr_params, reserved);

    STRUCT(pneumo_fit_event);
    FIELD(pneumo_fit_event, kind);
    FIELD(pneumo_fit_event, epoch);
    FIELD(pneumo_fit_event, epochs);
    FIELD(pneumo_fit_event, reserved0);
    FIELD(pneumo_fit_event, batch);
    FIELD(pneumo_fit_event, batches);
    FIELD(pneumo_fit_event, loss);
    FIELD(pneumo_fit_event, accuracy);
    FIELD(pneumo_fit_event, val_loss);
    FIELD(pneumo_fit_event, val_accuracy);
    FIELD(pneumo_fit_event, lr);
    FIELD(pneumo_fit_event, old_lr);
    FIELD(pneumo_fit_event, seconds);
    FIELD(pneumo_fit_event, reserved);

    STRUCT(pneumo_fit_options);
    FIELD(pneumo_fit_options, size);
    FIELD(pneumo_fit_options, epochs);
    FIELD(pneumo_fit_options, batch_size);
    FIELD(pneumo_fit_options, initial_epoch);
    FIELD(pneumo_fit_options, class_weighting);
    FIELD(pneumo_fit_options, class_weights);
    FIELD(pneumo_fit_options, early_stopping);
    FIELD(pneumo_fit_options, reduce_lr);
    FIELD(pneumo_fit_options, checkpoint_path);
    FIELD(pneumo_fit_options, best_model_path);
    FIELD(pneumo_fit_options, progress);
    FIELD(pneumo_fit_options, progress_user);
    FIELD(pneumo_fit_options, progress_bar);
    FIELD(pneumo_fit_options, threads);
    FIELD(pneumo_fit_options, callback);
    FIELD(pneumo_fit_options, user);
    FIELD(pneumo_fit_options, parallel);
    FIELD(pneumo_fit_options, reserved);

    STRUCT(pneumo_epoch_record);
    FIELD(pneumo_epoch_record, epoch);
    FIELD(pneumo_epoch_record, reserved0);
    FIELD(pneumo_epoch_record, loss);
    FIELD(pneumo_epoch_record, accuracy);
    FIELD(pneumo_epoch_record, val_loss);
    FIELD(pneumo_epoch_record, val_accuracy);
    FIELD(pneumo_epoch_record, lr);
    FIELD(pneumo_epoch_record, seconds);
    FIELD(pneumo_epoch_record, reserved);

    STRUCT(pneumo_evaluation);
    FIELD(pneumo_evaluation, loss);
    FIELD(pneumo_evaluation, accuracy);
    FIELD(pneumo_evaluation, confusion);
    FIELD(pneumo_evaluation, roc_auc);
    FIELD(pneumo_evaluation, count);
    FIELD(pneumo_evaluation, reserved);

    ENUM(PNEUMO_OK);
    ENUM(PNEUMO_ERR_INVALID_ARG);
    ENUM(PNEUMO_ERR_SHAPE);
    ENUM(PNEUMO_ERR_NOMEM);
    ENUM(PNEUMO_ERR_IO);
    ENUM(PNEUMO_ERR_FORMAT);
    ENUM(PNEUMO_ERR_STATE);
    ENUM(PNEUMO_ERR_UNSUPPORTED);
    ENUM(PNEUMO_ERR_LIMIT);
    ENUM(PNEUMO_ERR_CANCELLED);
    ENUM(PNEUMO_MAX_DIMS);
    ENUM(PNEUMO_ACT_LINEAR);
    ENUM(PNEUMO_ACT_RELU);
    ENUM(PNEUMO_ACT_SIGMOID);
    ENUM(PNEUMO_ACT_TANH);
    ENUM(PNEUMO_PADDING_VALID);
    ENUM(PNEUMO_PADDING_SAME);
    ENUM(PNEUMO_OPTIMIZER_ADAM);
    ENUM(PNEUMO_OPTIMIZER_SGD);
    ENUM(PNEUMO_RESAMPLE_NEAREST);
    ENUM(PNEUMO_RESAMPLE_BILINEAR);
    ENUM(PNEUMO_FILL_NEAREST);
    ENUM(PNEUMO_FILL_CONSTANT);
    ENUM(PNEUMO_FILL_REFLECT);
    ENUM(PNEUMO_FILL_WRAP);
    ENUM(PNEUMO_MONITOR_VAL_LOSS);
    ENUM(PNEUMO_MONITOR_VAL_ACCURACY);
    ENUM(PNEUMO_MONITOR_LOSS);
    ENUM(PNEUMO_MONITOR_ACCURACY);
    ENUM(PNEUMO_MODE_AUTO);
    ENUM(PNEUMO_MODE_MIN);
    ENUM(PNEUMO_MODE_MAX);
    ENUM(PNEUMO_EVENT_EPOCH_BEGIN);
    ENUM(PNEUMO_EVENT_BATCH_END);
    ENUM(PNEUMO_EVENT_EPOCH_END);
    ENUM(PNEUMO_EVENT_LR_CHANGED);
    ENUM(PNEUMO_EVENT_EARLY_STOP);
    ENUM(PNEUMO_CLASS_WEIGHT_NONE);
    ENUM(PNEUMO_CLASS_WEIGHT_BALANCED);
    ENUM(PNEUMO_CLASS_WEIGHT_CUSTOM);

    STRUCT(pneumo_preprocessing);
    FIELD(pneumo_preprocessing, size);
    FIELD(pneumo_preprocessing, height);
    FIELD(pneumo_preprocessing, width);
    FIELD(pneumo_preprocessing, color_mode);
    FIELD(pneumo_preprocessing, resample);
    FIELD(pneumo_preprocessing, rescale);
    FIELD(pneumo_preprocessing, reserved);

    STRUCT(pneumo_provenance);
    FIELD(pneumo_provenance, size);
    FIELD(pneumo_provenance, epochs);
    FIELD(pneumo_provenance, seed);
    FIELD(pneumo_provenance, class_counts);
    FIELD(pneumo_provenance, val_loss);
    FIELD(pneumo_provenance, val_accuracy);
    FIELD(pneumo_provenance, val_auc);
    FIELD(pneumo_provenance, library_version);
    FIELD(pneumo_provenance, reserved);

    STRUCT(pneumo_gradcam_options);
    FIELD(pneumo_gradcam_options, size);
    FIELD(pneumo_gradcam_options, layer);
    FIELD(pneumo_gradcam_options, target);
    FIELD(pneumo_gradcam_options, reserved);

    STRUCT(pneumo_gradcam_info);
    FIELD(pneumo_gradcam_info, size);
    FIELD(pneumo_gradcam_info, layer);
    FIELD(pneumo_gradcam_info, target);
    FIELD(pneumo_gradcam_info, height);
    FIELD(pneumo_gradcam_info, width);
    FIELD(pneumo_gradcam_info, probability);
    FIELD(pneumo_gradcam_info, max);
    FIELD(pneumo_gradcam_info, reserved);

    STRUCT(pneumo_overlay_options);
    FIELD(pneumo_overlay_options, size);
    FIELD(pneumo_overlay_options, alpha);
    FIELD(pneumo_overlay_options, max_side);
    FIELD(pneumo_overlay_options, reserved);

    STRUCT(pneumo_onnx_options);
    FIELD(pneumo_onnx_options, size);
    FIELD(pneumo_onnx_options, input_layout);
    FIELD(pneumo_onnx_options, opset);
    FIELD(pneumo_onnx_options, batch);
    FIELD(pneumo_onnx_options, reserved);
    ENUM(PNEUMO_ONNX_NHWC);
    ENUM(PNEUMO_ONNX_NCHW);

    ENUM(PNEUMO_COLOR_GRAYSCALE);
    ENUM(PNEUMO_CLASS_NAME_MAX);

    printf("version %s\n", PNEUMO_VERSION_STRING);
    return 0;
}
