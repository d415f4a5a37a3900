"""Training: configure a run, watch it live, compare runs, and look inside the trained model."""

import streamlit as st

from cvlab.board import tag_for_title
from cvlab.training import runs
from cvlab.training.optimizers import OPTIMIZERS
from cvlab.training.tasks import TASKS
from cvlab.ui import open_section, sections, show_figure, show_table
from cvlab.ui import training as ui
from cvlab.ui import training_results
from cvlab.ui import training_queue
from cvlab.ui import training_form as form
from cvlab.viz import training as viz

st.title("Training")
st.caption("The lecture's training loop, live: model.train(), clipped gradients, scheduler steps, validation "
           "under no_grad. Classifiers, U-Nets and YOLO detectors go to one shared job queue and keep going when "
           "you close the tab.")
who, secret = st.columns([2, 1])
with who:
    user = ui.current_user()
with secret:
    instructor = ui.is_instructor()
tab_new, tab_live, tab_compare, tab_results = sections("New run", "Live", "Compare", "Results")

for _ in open_section(tab_new):
    titles = {spec.title: name for name, spec in TASKS.items()}  # the address shows the title: ?task=Detection
    task = titles[st.segmented_control("Task", list(titles), default="Classification", required=True, key="task",
                                       bind="query-params")]
    if tab_new.open:
        config = form.settings_form(task)
        if config is not None:
            data = form.dataset_summary(config)
            steps_from = form.train_size(config, data)
            if steps_from:
                form.lr_preview(config, steps_from)
            entry = OPTIMIZERS.get(config.optimizer)
            st.latex(entry.latex)
            st.caption(f"{entry.title}: {entry.note} ({entry.paper}, {entry.year})")
            start, fine_tune = st.columns(2)
            if start.button("Start training", type="primary", key="start", disabled=not user.may_start):
                ui.start_runs([config], user)
            if TASKS.get(task).fine_tune_offered:
                if fine_tune.button("Fine-tune EfficientNet-B0 (the lab's recipe)", key="fine_tune",
                                    disabled=not user.may_start):
                    ui.start_runs([config.with_recipe(form.FINE_TUNE)[0]], user, "fine-tune-efficientnet")
                fine_tune.caption(form.fine_tune_note(config))
                st.markdown("**Lab exercises**: one click queues the runs to compare, with the settings above.")
                for column, name in zip(st.columns(len(form.EXERCISES)), form.EXERCISES):
                    if column.button(name, key=f"exercise-{name}", disabled=not user.may_start):
                        ui.start_runs(form.exercise_configs(config, name), user, tag_for_title(name))
            if not user.may_start:
                st.info(user.missing)

every_run = ui.ordered_runs(user)
labels = {info.run_id: ui.label(info) for info in every_run}
chosen = st.session_state.get("run")

for _ in open_section(tab_live):
    if tab_live.open:
        if not every_run:
            st.info("No runs yet: start one in *New run*.")
        else:
            ids = list(labels)
            run_id = st.selectbox("Run (yours first)", ids, index=ids.index(chosen) if chosen in ids else 0,
                                  format_func=labels.get, key="live_run")
            ui.live_panel(run_id, user, instructor)
        with st.expander("The queue: waiting runs in the order they start"):
            training_queue.queue_panel(user.owner_id, instructor)

for _ in open_section(tab_compare):
    if tab_compare.open and every_run:
        picked = st.multiselect("Runs to overlay", list(labels), default=list(labels)[:3], format_func=labels.get,
                                key="compare")
        infos = [info for info in every_run if info.run_id in picked]
        scores = [f"val_{m.key}" for name in dict.fromkeys(i.config.task for i in infos)
                  for m in TASKS.get(name).metrics]
        metric = st.radio("Metric", [*(scores or ["val_accuracy"]), "val_loss", "train_loss", "images_per_second"],
                          horizontal=True, key="metric", bind="query-params")
        if infos:
            series = [(f"{i.run_id.split('-', 2)[-1]} {ui.recipe_label(i.config)}", runs.read_metrics(i.run_dir))
                      for i in infos]
            show_figure(viz.compare_runs(series, metric), key="compare_fig")
            show_table(ui.config_table(infos))
    elif tab_compare.open:
        st.info("No runs yet.")

for _ in open_section(tab_results):
    if tab_results.open and every_run:
        ended = [i for i in every_run if runs.has_final_scores(i.run_dir)]
        if not ended:
            st.info("Results appear here when a run finishes or is stopped.")
        else:
            ids = [i.run_id for i in ended]
            run_id = st.selectbox("Run", ids, index=ids.index(chosen) if chosen in ids else 0,
                                  format_func=labels.get, key="result_run")
            training_results.results(next(i for i in ended if i.run_id == run_id))
    elif tab_results.open:
        st.info("No runs yet.")
