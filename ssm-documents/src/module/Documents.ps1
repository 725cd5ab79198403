# The three documents: parameters, desired state, configure / verify / rollback and the entry point.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpParameter([string]$Name, [string]$Interpolated) {
    $value = [Environment]::GetEnvironmentVariable('SSM_' + $Name)
    if (-not $value -and $Interpolated -and -not $Interpolated.StartsWith('{{')) { $value = $Interpolated }
    return $value
}

function Read-BpDesiredState([string]$Encoded) {
    if (-not $Encoded -or $Encoded -notmatch '^[A-Za-z0-9+/]+={0,2}$') { throw (New-BpError 'INVALID_PARAMETER' 'DesiredState is missing or not base64') }
    try { $state = ConvertFrom-BpJson ([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($Encoded))) }
    catch { throw (New-BpError 'INVALID_PARAMETER' 'DesiredState is not base64 of a JSON desired state') }
    if ($null -eq $state -or $state.schema -ne 1) { throw (New-BpError 'UNSUPPORTED_DESIRED_STATE' 'the desired state is not schema 1; update the beacon documents') }
    if ($state.requestId -notmatch '^[A-Za-z0-9._-]{1,64}$') { throw (New-BpError 'INVALID_PARAMETER' 'the desired state has no valid requestId') }
    return $state
}

function Resolve-BpPlan($State, $Result, [switch]$ReadOnly) {
    $script:BpStep = 'plan'
    $root = Find-BpFlexNetRoot $State
    $service = Get-BpService $State.service.displayName
    if ($null -eq $service) { throw (New-BpError 'SERVICE_NOT_FOUND' ('no service named ' + $State.service.displayName + ' on this beacon')) }
    $tasks = Find-BpBeaconTasks $State -AllowMissing:$ReadOnly
    foreach ($task in @($tasks.found)) { [void]$Result.tasksFound.Add($task.name) }
    return [ordered]@{ root = $root; service = $service; tasks = $tasks }
}

function Invoke-BpConfigure($State, $Result) {
    $plan = Resolve-BpPlan $State $Result
    $account = Resolve-BpAccount (Get-BpAccountLookupName $State)
    if ($null -eq $account -and -not $State.account.createIfMissing) {
        throw (New-BpError 'ACCOUNT_NOT_FOUND' ('the account ' + $State.account.name + ' does not exist; create it in the domain first'))
    }
    $previous = Resolve-BpPreviousAccount $State $plan
    $script:BpStep = 'secret'
    $script:BpPassword = Get-BpSecretValue $State
    if ($previous) {
        $script:BpPreviousAccount = $previous
        $script:BpPreviousPassword = (Read-BpPassword $State.previousAccount.passwordRef).password
    }

    $script:BpStep = 'capture'
    $capture = [ordered]@{
        schema = 1; captureId = $State.requestId; root = $plan.root
        service = [ordered]@{ name = $plan.service.name; startName = $plan.service.startName; state = $plan.service.state }
        previous = $null
        entries = (New-Object System.Collections.ArrayList); persist = (-not (Test-BpCaptureExists $State.requestId))
    }
    # The previous account's secret reference (never its password), for the Rollback document.
    if ($previous) { $capture.previous = [ordered]@{ name = $previous; passwordRef = $State.previousAccount.passwordRef } }
    $Result.captureId = $State.requestId
    $all = New-Object System.Collections.ArrayList
    try {
        $stage = New-BpAccountStage $State
        Add-BpCaptureEntries $capture $stage
        Invoke-BpApply $stage $Result.changed $Result.diff
        foreach ($entry in $stage) { [void]$all.Add($entry) }

        $script:BpStep = 'capture'
        $account = Resolve-BpAccount (Get-BpAccountLookupName $State)
        if ($null -eq $account) { throw (New-BpError 'ACCOUNT_NOT_FOUND' ('the account ' + $State.account.name + ' cannot be resolved after creation')) }
        $names = Get-BpAccountNames $State $account
        $stage = New-BpSettingsStage $State $plan.root $account.sid $names $plan.service $plan.tasks.found
        # The profile must exist before its hive can be captured: capture and create it first.
        $profileEntries = @($stage | Where-Object { $_.concern -eq 'profile' })
        $rest = @($stage | Where-Object { $_.concern -ne 'profile' })
        Add-BpCaptureEntries $capture $profileEntries
        Invoke-BpApply $profileEntries $Result.changed $Result.diff
        Add-BpCaptureEntries $capture $rest
        Invoke-BpApply $rest $Result.changed $Result.diff
        foreach ($entry in $stage) { [void]$all.Add($entry) }
        $script:BpCredentialRotated = $false

        $script:BpStep = 'service'
        $current = Get-BpService $plan.service.name
        if ($Result.changed.Count -gt 0 -or $current.state -ne 'Running') {
            Restart-BpServiceAndWait $plan.service.name ([int]$State.service.startTimeoutSeconds)
            [void]$Result.changed.Add('service:restarted')
            Add-BpDiffText $Result.diff 'service:restarted' ([string]$current.state) ([string](Get-BpService $plan.service.name).state + ' (restarted)')
        }

        $script:BpStep = 'verify'
        Get-BpChecks $all $Result.checks
        $service = Get-BpService $plan.service.name
        [void]$Result.checks.Add((New-BpCheck 'service:state' 'Running' $service.state ($service.state -eq 'Running')))
        $failed = @($Result.checks | Where-Object { -not $_.ok } | ForEach-Object { $_.name })
        if ($failed.Count -gt 0) { throw (New-BpError 'VERIFY_FAILED' ('read back differs from the desired state: ' + ($failed -join ', '))) }

        # Through the proxy just configured: a beacon that cannot reach FNMS is rolled back.
        if ($State.Contains('probe') -and $null -ne $State.probe -and $State.probe.url) {
            $script:BpStep = 'probe'
            $probe = Invoke-BpEndpointProbe ([string]$State.probe.url) ([string]$State.wininet.proxyServer)
            [void]$Result.checks.Add((New-BpCheck 'endpoint' 'reachable' $probe.status $probe.ok))
            if (-not $probe.ok) { throw (New-BpError 'ENDPOINT_UNREACHABLE' ('FNMS (' + $State.probe.url + ') is not reachable through ' + $probe.proxy + ': ' + $probe.detail + '; check the proxy address and that it allows the beacon')) }
        }
        $Result.ok = $true
    } catch {
        Set-BpResultError $Result $_
        $script:BpStep = 'rollback'
        $Result.rollback = Restore-BpCapture $capture $Result.checks
    }
}

function Invoke-BpVerify($State, $Result, [string]$CheckEndpoint) {
    $plan = Resolve-BpPlan $State $Result -ReadOnly
    foreach ($name in @($plan.tasks.missing)) { [void]$Result.checks.Add((New-BpCheck ('task:' + $name) 'present' $null $false)) }
    $script:BpStep = 'verify'
    $account = Resolve-BpAccount (Get-BpAccountLookupName $State)
    [void]$Result.checks.Add((New-BpCheck ('account:' + $State.account.name) $true ($null -ne $account) ($null -ne $account)))
    # A local account that does not exist yet is one a run creates (a domain account it only refuses): the
    # plan still shows every value a run would set, those of the account itself as not there yet.
    $creates = ($null -eq $account -and $State.account.createIfMissing)
    if ($creates) { Add-BpDiffText $Result.diff ('account:' + $State.account.name) 'absent' 'present' }
    if ($null -ne $account -or $creates) {
        $sid = $null
        if ($null -ne $account) { $sid = $account.sid }
        $names = Get-BpAccountNames $State $account
        $entries = New-BpSettingsStage $State $plan.root $sid $names $plan.service $plan.tasks.found
        # Settings of an account or a profile that does not exist yet: none of them is there, a run writes them all.
        $absent = @()
        if ($null -eq $sid) { $absent = @($entries | Where-Object { $_.Contains('sid') -or ($_.Contains('path') -and ([string]$_.path).StartsWith('HKU\')) }) }
        elseif (@($entries | Where-Object { $_.hive }).Count -gt 0 -and $null -eq (Get-BpProfile $sid)) {
            $absent = @($entries | Where-Object { $_.hive })
            [void]$Result.checks.Add((New-BpCheck 'wininet' 'profile with proxy settings' 'no profile' $false))
        }
        if ($absent.Count -eq 0) { Get-BpChecks $entries $Result.checks $Result.diff }
        else {
            foreach ($entry in $entries) {
                if ($absent -contains $entry) { if ($null -ne $entry.desired) { Add-BpDiff $Result.diff $entry $null (Get-BpPlannedValue $entry $null) 'planned' } }
                else { Get-BpChecks @($entry) $Result.checks $Result.diff }
            }
        }
    }
    $service = Get-BpService $plan.service.name
    [void]$Result.checks.Add((New-BpCheck 'service:state' 'Running' $service.state ($service.state -eq 'Running')))
    if ($service.state -ne 'Running') { Add-BpDiffText $Result.diff 'service:state' ([string]$service.state) 'Running' }
    if ($CheckEndpoint -and $CheckEndpoint -ne 'none') {
        $script:BpStep = 'probe'
        $probe = Invoke-BpEndpointProbe $CheckEndpoint ([string]$State.wininet.proxyServer)
        [void]$Result.checks.Add((New-BpCheck 'endpoint' 'reachable' $probe.status $probe.ok))
    }
    $failed = @($Result.checks | Where-Object { -not $_.ok } | ForEach-Object { $_.name })
    if ($failed.Count -gt 0) {
        $Result.error = [ordered]@{ code = 'DRIFT'; message = ('the beacon differs from the desired state: ' + ($failed -join ', ') + '; run configure again'); step = 'verify' }
    } else { $Result.ok = $true }
}

function Invoke-BpRollback([string]$CaptureId, $Result) {
    $script:BpStep = 'rollback'
    $Result.captureId = $CaptureId
    $capture = Read-BpCapture $CaptureId
    $Result.requestId = $capture.captureId
    if ($capture.Contains('previous') -and $null -ne $capture.previous) {
        $script:BpStep = 'secret'
        $script:BpPreviousAccount = [string]$capture.previous.name
        $script:BpPreviousPassword = (Read-BpPassword ([string]$capture.previous.passwordRef)).password
        $script:BpStep = 'rollback'
    }
    $Result.rollback = Restore-BpCapture $capture $Result.checks
    foreach ($id in @($Result.rollback.restored)) { [void]$Result.changed.Add($id) }
    if ($Result.rollback.ok) { $Result.ok = $true }
    else { $Result.error = [ordered]@{ code = 'ROLLBACK_FAILED'; message = $Result.rollback.error; step = 'rollback' } }
}

function Reset-BpRunState {
    $script:BpStep = 'start'
    $script:BpPassword = $null
    $script:BpPreviousAccount = $null
    $script:BpPreviousPassword = $null
    $script:BpSecretVersion = $null
    $script:BpCredentialRotated = $false
    $script:BpSecretTexts.Clear()
}

function Invoke-BpDocument([string]$Kind, [hashtable]$Parameters) {
    Reset-BpRunState
    $result = New-BpResult $Kind
    $lock = $null
    try {
        if ($script:BpLayerError) { throw (New-BpError 'LAYER_MISSING' $script:BpLayerError) }
        # One document at a time on a beacon: the lock is held for the whole time the box is read or changed.
        $script:BpStep = 'lock'
        $lock = Enter-BpDocumentLock $result
        Open-BpLayer
        if ($Kind -eq 'rollback') {
            if ($Parameters.CaptureId -notmatch '^[A-Za-z0-9._-]{1,64}$') { throw (New-BpError 'INVALID_PARAMETER' 'CaptureId is missing or not a plain id') }
            Invoke-BpRollback $Parameters.CaptureId $result
        } else {
            $state = Read-BpDesiredState $Parameters.DesiredState
            $result.requestId = $state.requestId
            if ($Kind -eq 'configure') { Invoke-BpConfigure $state $result } else { Invoke-BpVerify $state $result $Parameters.CheckEndpoint }
        }
    } catch {
        Set-BpResultError $result $_
    }
    $script:BpPassword = $null
    $script:BpPreviousPassword = $null
    if (-not $script:BpLayerError -and $null -ne $lock) {
        try { Complete-BpLayer } catch { Set-BpResultError $result $_; $result.ok = $false }
    }
    if ($null -ne $lock) { Exit-BpDocumentLock $lock }
    return (Write-BpResult $result)
}
