//! What a client may read beyond its welcome, for the `query` frame and the HTTP routes
//! alike: a page of a thread, a document with its text (now or at a past version), a past
//! moment.

use axum::http::StatusCode;
use choir_proto::{Doc, DocId, ErrorCode, Query, Reply, ThreadId, ThreadPage, MAX_PAGE};

use super::error::ApiError;
use super::AppState;

/// The thread's messages before `before` (the latest without it), at most `limit`.
pub(super) async fn thread_page(
    state: &AppState,
    thread_id: ThreadId,
    before: Option<u64>,
    limit: u32,
) -> Result<ThreadPage, ApiError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidCommand,
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let known = state
        .world
        .query(move |world| world.chats.contains_key(&thread_id))
        .await?;
    if !known {
        return Err(not_found(format!("no thread {thread_id}")));
    }
    let before = before.unwrap_or(u64::MAX);
    state
        .store
        .thread_page(thread_id, before, limit as usize)
        .await
        .map_err(ApiError::internal)
}

/// The document with its text.
pub(super) async fn doc(state: &AppState, doc_id: DocId) -> Result<Doc, ApiError> {
    state
        .world
        .doc(doc_id)
        .await?
        .ok_or_else(|| not_found(format!("no document {doc_id}")))
}

/// Answers a `query` frame.
pub(super) async fn answer(state: &AppState, query: Query) -> Result<Reply, ApiError> {
    Ok(match query {
        Query::ThreadMessages {
            thread_id,
            before,
            limit,
        } => Reply::ThreadMessages {
            page: thread_page(state, thread_id, before, limit).await?,
        },
        Query::Doc { doc_id } => Reply::Doc {
            doc: doc(state, doc_id).await?,
        },
        Query::DocAt {
            doc_id,
            version,
            seq,
        } => Reply::Doc {
            doc: doc_at(state, doc_id, version, seq).await?,
        },
        Query::Moment { at } => Reply::Moment {
            moment: state.past.moment(at).await.map_err(ApiError::internal)?,
        },
    })
}

/// The document with its text as it was at `version` (and no recent edits). Read apart from
/// the world actor: a document's long history read back holds up no one's commands.
async fn doc_at(state: &AppState, doc_id: DocId, version: u64, seq: u64) -> Result<Doc, ApiError> {
    let missing = || not_found(format!("no version {version} of document {doc_id}"));
    let meta = state
        .world
        .query(move |world| world.docs.get(&doc_id).map(Doc::summary))
        .await?
        .ok_or_else(missing)?;
    let text = state
        .past
        .doc_text(&meta, version, seq)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(missing)?;
    let mut doc = Doc::new(doc_id, "", &text, 0);
    doc.version = version;
    Ok(doc)
}

fn not_found(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
}
