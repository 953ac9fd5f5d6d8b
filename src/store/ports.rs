//! The store traits, one per aggregate, and their implementation for every
//! [`UnitOfWork`] store.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Page, PageRequest, Query, Record, RecordId, StoreError, Transaction, UnitOfWork,
    absorb_customer, page_in,
};
use crate::domain::{
    Case, CaseId, Customer, CustomerId, Interaction, InteractionId, InvitationId, Purchase,
    PurchaseId, ResponseId, Subscription, SubscriptionId, Survey, SurveyId, SurveyInvitation,
    SurveyResponse, Version, Versioned,
};
use crate::error::ValidationError;

pub(crate) fn get_or_not_found<I: RecordId, X: Transaction>(
    tx: &mut X,
    id: I,
) -> Result<Versioned<I::Record>, StoreError> {
    tx.get(id)?.ok_or_else(|| StoreError::NotFound {
        kind: I::Record::KIND,
        id: id.to_string(),
    })
}

/// Declares the standard operations of one record kind in a store trait,
/// and implements them for every [`UnitOfWork`] store.
macro_rules! ops {
    (@decl $R:ty, $Id:ty, create $create:ident) => {
        #[doc = concat!("Stores a new `", stringify!($R), "` at [`Version::FIRST`].")]
        ///
        /// # Errors
        /// [`StoreError::AlreadyExists`] if its id is taken.
        fn $create(&self, record: $R) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, get $get:ident) => {
        #[doc = concat!("The stored `", stringify!($R), "` with this id.")]
        ///
        /// # Errors
        /// [`StoreError::NotFound`].
        fn $get(&self, id: $Id) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, update $update:ident) => {
        #[doc = concat!("Replaces a stored `", stringify!($R), "` if its stored version is `expected`; returns it at the next version.")]
        ///
        /// # Errors
        /// [`StoreError::Conflict`] (naming both versions) when someone else
        /// changed it since `expected`, [`StoreError::NotFound`].
        fn $update(&self, record: $R, expected: Version) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, delete $delete:ident) => {
        #[doc = concat!("Deletes a stored `", stringify!($R), "` if its stored version is `expected`.")]
        ///
        /// # Errors
        /// [`StoreError::Conflict`], [`StoreError::NotFound`].
        fn $delete(&self, id: $Id, expected: Version) -> impl Future<Output = Result<(), StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, bulk $bulk:ident) => {
        #[doc = concat!("Stores many new `", stringify!($R), "`s at [`Version::FIRST`], all or none; returns how many.")]
        ///
        /// # Errors
        /// [`StoreError::AlreadyExists`] (nothing is stored then).
        fn $bulk(&self, records: Vec<$R>) -> impl Future<Output = Result<usize, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, list $list:ident) => {
        #[doc = concat!("One page of the `", stringify!($R), "`s matching `query`, in [`Key`](super::Key) order.")]
        ///
        /// # Errors
        /// [`StoreError::InvalidCursor`] for a cursor of another query or
        /// store handle.
        fn $list(&self, query: Query, page: PageRequest) -> impl Future<Output = Result<Page<Versioned<$R>>, StoreError>> + Send;
    };

    (@impl $R:ty, $Id:ty, create $create:ident) => {
        fn $create(&self, record: $R) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send {
            self.transaction(move |tx| tx.insert(record))
        }
    };
    (@impl $R:ty, $Id:ty, get $get:ident) => {
        fn $get(&self, id: $Id) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send {
            self.transaction(move |tx| get_or_not_found(tx, id))
        }
    };
    (@impl $R:ty, $Id:ty, update $update:ident) => {
        fn $update(&self, record: $R, expected: Version) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send {
            self.transaction(move |tx| tx.update(record, expected))
        }
    };
    (@impl $R:ty, $Id:ty, delete $delete:ident) => {
        fn $delete(&self, id: $Id, expected: Version) -> impl Future<Output = Result<(), StoreError>> + Send {
            self.transaction(move |tx| tx.delete(id, Some(expected)))
        }
    };
    (@impl $R:ty, $Id:ty, bulk $bulk:ident) => {
        fn $bulk(&self, records: Vec<$R>) -> impl Future<Output = Result<usize, StoreError>> + Send {
            self.transaction(move |tx| super::insert_all(tx, records))
        }
    };
    (@impl $R:ty, $Id:ty, list $list:ident) => {
        fn $list(&self, query: Query, page: PageRequest) -> impl Future<Output = Result<Page<Versioned<$R>>, StoreError>> + Send {
            let cursors = self.cursors().clone();
            self.transaction(move |tx| page_in::<$R, _>(tx, &cursors, &query, &page))
        }
    };
}

macro_rules! store_trait {
    (
        $(#[$meta:meta])*
        pub trait $Trait:ident {
            $( $R:ty, $Id:ty => { $($op:ident $name:ident),* $(,)? } )*
        }
        extra { $($extra_decl:tt)* }
        impl { $($extra_impl:tt)* }
    ) => {
        $(#[$meta])*
        pub trait $Trait: Send + Sync {
            $( $( ops!(@decl $R, $Id, $op $name); )* )*
            $($extra_decl)*
        }

        impl<S: UnitOfWork> $Trait for S {
            $( $( ops!(@impl $R, $Id, $op $name); )* )*
            $($extra_impl)*
        }
    };
}

store_trait! {
    /// Surveys, their invitations and their responses.
    ///
    /// Surveys are mutable (name and question); invitations and responses
    /// are facts: they are created, listed, erased and re-pointed by a
    /// customer merge, never updated. Listings take any [`Query`]: by
    /// survey, by customer, by time range (the invitation's `sent_at`, the
    /// response's `responded_at`) or by segment (at the time of the
    /// response).
    ///
    /// Implemented for every [`UnitOfWork`] store; see the [module
    /// contract](super#contract).
    pub trait SurveyStore {
        Survey, SurveyId => {
            create create_survey, get get_survey, update update_survey,
            delete delete_survey, bulk insert_surveys, list surveys
        }
        SurveyInvitation, InvitationId => {
            create record_invitation, get get_invitation, delete delete_invitation,
            bulk insert_invitations, list invitations
        }
        SurveyResponse, ResponseId => {
            create record_response, get get_response, delete delete_response,
            bulk insert_responses, list responses
        }
    }
    extra {}
    impl {}
}

/// Declares [`CustomerExport`] and the loops of erasure, export and merge
/// over every kind of record about a customer.
macro_rules! customer_records {
    ($($field:ident: $R:ty),* $(,)?) => {
        /// Everything a store holds about one customer, as one serde
        /// document: the answer to a subject access request.
        ///
        /// Records are in [`Key`](super::Key) order within each kind.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct CustomerExport {
            /// The customer record.
            pub customer: Versioned<Customer>,
            $(
                #[doc = concat!("Every `", stringify!($R), "` about the customer.")]
                pub $field: Vec<Versioned<$R>>,
            )*
            /// The customer's follow-ups in the store's outbox (empty for
            /// a store that is not an outbox), by key.
            #[serde(default)]
            pub outbox: Vec<Versioned<crate::outreach::OutboxEntry>>,
        }

        impl CustomerExport {
            /// The number of records, the customer included.
            pub fn len(&self) -> usize {
                1 $(+ self.$field.len())* + self.outbox.len()
            }

            /// Always false: an export holds at least the customer.
            pub fn is_empty(&self) -> bool {
                false
            }
        }

        /// Export inside a unit of work.
        ///
        /// # Errors
        /// [`StoreError::NotFound`] for an unknown customer.
        pub fn export_customer_in<X: Transaction>(
            tx: &mut X,
            id: CustomerId,
        ) -> Result<CustomerExport, StoreError> {
            let customer = get_or_not_found(tx, id)?;
            Ok(CustomerExport {
                customer,
                $($field: tx.scan_all::<$R>(&Query::Customer(id))?,)*
                outbox: tx.export_outbox(id)?,
            })
        }

        fn erase_records<X: Transaction>(
            tx: &mut X,
            id: CustomerId,
            at: DateTime<Utc>,
        ) -> Result<usize, StoreError> {
            let mut n = 0;
            $(n += erase_kind::<$R, X>(tx, id, at)?;)*
            Ok(n)
        }

        fn reassign_records<X: Transaction>(
            tx: &mut X,
            from: CustomerId,
            to: CustomerId,
        ) -> Result<usize, StoreError> {
            let mut n = 0;
            $(n += reassign_kind::<$R, X>(tx, from, to)?;)*
            Ok(n)
        }
    };
}

customer_records! {
    interactions: Interaction,
    cases: Case,
    purchases: Purchase,
    subscriptions: Subscription,
    invitations: SurveyInvitation,
    responses: SurveyResponse,
}

fn erase_kind<R: Record, X: Transaction>(
    tx: &mut X,
    id: CustomerId,
    at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for v in tx.scan_all::<R>(&Query::Customer(id))? {
        let (mut record, version) = v.into_parts();
        if record.erase_personal(at) {
            let _ = tx.replace(record, version)?;
            n += 1;
        }
    }
    Ok(n)
}

fn reassign_kind<R: Record, X: Transaction>(
    tx: &mut X,
    from: CustomerId,
    to: CustomerId,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for v in tx.scan_all::<R>(&Query::Customer(from))? {
        let (mut record, version) = v.into_parts();
        if record.reassign(from, to)? {
            let _ = tx.replace(record, version)?;
            n += 1;
        }
    }
    Ok(n)
}

/// What an erasure changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErasureReport {
    /// Records whose personal data was replaced, the customer included
    /// (and the customer's outbox entries that changed, in a store that is
    /// also an outbox).
    pub records: usize,
}

/// What a merge changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MergeReport {
    /// The surviving customer, with the absorbed one's data combined in.
    pub customer: Versioned<Customer>,
    /// Records re-pointed from the absorbed customer (and their outbox
    /// entries, in a store that is also an outbox).
    pub moved: usize,
}

/// Erasure inside a unit of work: the customer and every record about them
/// lose their personal data; anonymous facts stay.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown customer.
pub fn erase_customer_in<X: Transaction>(
    tx: &mut X,
    id: CustomerId,
    at: DateTime<Utc>,
) -> Result<ErasureReport, StoreError> {
    let (mut customer, version) = get_or_not_found(tx, id)?.into_parts();
    let mut records = 0;
    if customer.erase_personal(at) {
        let _ = tx.replace(customer, version)?;
        records += 1;
    }
    records += erase_records(tx, id, at)?;
    records += tx.erase_outbox(id, at)?;
    tx.erased();
    Ok(ErasureReport { records })
}

/// Merge inside a unit of work: every record of `absorbed` is re-pointed to
/// `keep` (outbox entries too: [`Transaction::reassign_outbox`]), the
/// absorbed customer's data is combined into `keep`
/// ([`absorb_customer`]) and the absorbed customer is deleted.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown customer, [`StoreError::Invalid`]
/// when `keep == absorbed` or the combined customer is invalid.
pub fn merge_customers_in<X: Transaction>(
    tx: &mut X,
    keep: CustomerId,
    absorbed: CustomerId,
) -> Result<MergeReport, StoreError> {
    if keep == absorbed {
        return Err(StoreError::Invalid(ValidationError::Inconsistent {
            field: "merge",
            reason: format!("cannot merge customer {keep} into itself"),
        }));
    }
    let (mut survivor, version) = get_or_not_found(tx, keep)?.into_parts();
    let (other, other_version) = get_or_not_found(tx, absorbed)?.into_parts();
    absorb_customer(&mut survivor, &other)?;
    let customer = tx.replace(survivor, version)?;
    let moved = reassign_records(tx, absorbed, keep)? + tx.reassign_outbox(absorbed, keep)?;
    tx.delete(absorbed, Some(other_version))?;
    Ok(MergeReport { customer, moved })
}

store_trait! {
    /// Customers, with the operations that span every record about one
    /// customer: erasure, export and merge.
    ///
    /// Listings take any [`Query`]: all customers, by segment, by creation
    /// time. Erasure, export and merge cover every kind of record the store
    /// holds about the customer, each in one unit of work.
    ///
    /// Implemented for every [`UnitOfWork`] store; see the [module
    /// contract](super#contract).
    pub trait CustomerStore {
        Customer, CustomerId => {
            create create_customer, get get_customer, update update_customer,
            delete delete_customer, bulk insert_customers, list customers
        }
    }
    extra {
        /// Erases the customer's personal data and that of every record
        /// about them, in one unit of work, keeping the anonymous facts
        /// metrics need; `at` is recorded as the erasure time. Stores that
        /// can, also remove the old values physically.
        ///
        /// # Errors
        /// [`StoreError::NotFound`].
        fn erase_customer(&self, id: CustomerId, at: DateTime<Utc>) -> impl Future<Output = Result<ErasureReport, StoreError>> + Send;

        /// Everything stored about the customer, as one serde document.
        ///
        /// # Errors
        /// [`StoreError::NotFound`].
        fn export_customer(&self, id: CustomerId) -> impl Future<Output = Result<CustomerExport, StoreError>> + Send;

        /// Merges `absorbed` into `keep` in one unit of work: history is
        /// re-pointed (outbox entries included, in a store that is also an
        /// outbox), the customer records are combined, `absorbed` is
        /// deleted.
        ///
        /// # Errors
        /// [`StoreError::NotFound`], [`StoreError::Invalid`].
        fn merge_customers(&self, keep: CustomerId, absorbed: CustomerId) -> impl Future<Output = Result<MergeReport, StoreError>> + Send;
    }
    impl {
        fn erase_customer(&self, id: CustomerId, at: DateTime<Utc>) -> impl Future<Output = Result<ErasureReport, StoreError>> + Send {
            self.transaction(move |tx| erase_customer_in(tx, id, at))
        }
        fn export_customer(&self, id: CustomerId) -> impl Future<Output = Result<CustomerExport, StoreError>> + Send {
            self.transaction(move |tx| export_customer_in(tx, id))
        }
        fn merge_customers(&self, keep: CustomerId, absorbed: CustomerId) -> impl Future<Output = Result<MergeReport, StoreError>> + Send {
            self.transaction(move |tx| merge_customers_in(tx, keep, absorbed))
        }
    }
}

store_trait! {
    /// Interactions: every contact with a customer on any channel.
    ///
    /// Listings take any [`Query`]: by customer or by time range (the
    /// interaction's `occurred_at`).
    ///
    /// Implemented for every [`UnitOfWork`] store; see the [module
    /// contract](super#contract).
    pub trait InteractionStore {
        Interaction, InteractionId => {
            create create_interaction, get get_interaction, update update_interaction,
            delete delete_interaction, bulk insert_interactions, list interactions
        }
    }
    extra {}
    impl {}
}

store_trait! {
    /// Support cases with their event histories.
    ///
    /// Recording an event is an update of the case (with its expected
    /// version, so two agents cannot overwrite each other's events).
    /// Listings take any [`Query`]: by customer or by time range (the time
    /// the case was created).
    ///
    /// Implemented for every [`UnitOfWork`] store; see the [module
    /// contract](super#contract).
    pub trait CaseStore {
        Case, CaseId => {
            create create_case, get get_case, update update_case,
            delete delete_case, bulk insert_cases, list cases
        }
    }
    extra {}
    impl {}
}

store_trait! {
    /// Purchases (facts: sales and refunds) and subscriptions (mutable:
    /// MRR changes and cancellation).
    ///
    /// Listings take any [`Query`]: by customer or by time range (the
    /// purchase's `occurred_at`, the subscription's `started_at`).
    ///
    /// Implemented for every [`UnitOfWork`] store; see the [module
    /// contract](super#contract).
    pub trait PurchaseStore {
        Purchase, PurchaseId => {
            create record_purchase, get get_purchase, delete delete_purchase,
            bulk insert_purchases, list purchases
        }
        Subscription, SubscriptionId => {
            create create_subscription, get get_subscription, update update_subscription,
            delete delete_subscription, bulk insert_subscriptions, list subscriptions
        }
    }
    extra {}
    impl {}
}
